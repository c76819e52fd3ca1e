"""LiveCodeBench: release files, date windows, both test styles, safe decoding of private tests."""

from __future__ import annotations

import base64
import json
import os
import pickle
import zlib
from pathlib import Path

import pytest

from benchmarks import livecodebench as lcb
from benchmarks.loading import load_benchmark
from benchmarks.registry import get_benchmark
from prime_eval.verify.code import CodeVerifier


def _private(tests: list[dict]) -> str:
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()


def _row(qid: str, date: str, tests: list[dict], private: list[dict], func: str | None = None) -> dict:
    return {
        "question_title": qid, "question_content": f"Problem {qid}", "platform": "atcoder", "question_id": qid,
        "contest_id": "c1", "contest_date": f"{date}T00:00:00", "starter_code": "class Solution:\n    def add(self, a, b):\n        " if func else "",
        "difficulty": "easy", "public_test_cases": json.dumps(tests), "private_test_cases": _private(private),
        "metadata": json.dumps({"func_name": func} if func else {}),
    }  # fmt: skip


STDIN = [{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]
STDIN_PRIVATE = [{"input": "10 -4\n", "output": "6\n", "testtype": "stdin"}]
FUNCTIONAL = [{"input": "1\n2", "output": "3", "testtype": "functional"}]
FUNCTIONAL_PRIVATE = [{"input": "[1]\n[2]", "output": "[1, 2]", "testtype": "functional"}]


def write_lcb_files(root: Path) -> Path:
    """LiveCodeBench release files with four problems in its format under ``root/livecodebench``."""
    d = root / "livecodebench"
    d.mkdir()
    files = {
        "test.jsonl": [_row("abc1", "2023-06-01", STDIN, STDIN_PRIVATE)],
        "test2.jsonl": [_row("lc2", "2024-01-10", FUNCTIONAL, FUNCTIONAL_PRIVATE, func="add")],
        "test3.jsonl": [_row("late3", "2024-07-01", STDIN, STDIN_PRIVATE)],  # outside the paper's window
        "test4.jsonl": [_row("early4", "2023-04-30", STDIN, STDIN_PRIVATE)],  # outside too
    }
    for name, rows in files.items():
        (d / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture()
def lcb_dir(tmp_path: Path) -> Path:
    return write_lcb_files(tmp_path)


def test_release_files_and_date_window(lcb_dir):
    loaded = load_benchmark(get_benchmark("livecodebench"), data_dir=lcb_dir)
    assert [p.id for p in loaded.problems] == ["abc1", "lc2"]
    assert loaded.source["release_version"] == "release_v4" and len(loaded.source["paths"]) == 4
    stdin, functional = (p.reference for p in loaded.problems)
    assert stdin.kind == "stdio" and [c.input for c in stdin.cases] == ["1 2\n", "10 -4\n"]
    assert functional.kind == "functional" and len(functional.tests) == 2
    assert "starter code" in loaded.problems[1].question
    with pytest.raises(ValueError, match="unknown LiveCodeBench release"):
        lcb.release_files("release_v9")


def test_solutions_are_scored_by_the_sandbox(lcb_dir):
    stdin, functional = (
        p.reference for p in load_benchmark(get_benchmark("livecodebench"), data_dir=lcb_dir).problems
    )
    v = CodeVerifier()
    good_stdin = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
    assert v.verify(good_stdin, stdin).correct
    half = "```python\na, b = map(int, input().split())\nprint(a + b if a < 5 else 0)\n```"
    verdict = v.verify(half, stdin)
    assert not verdict.correct and verdict.score == 0.5
    good_fn = "```python\nclass Solution:\n    def add(self, a, b):\n        return a + b\n```"
    assert v.verify(good_fn, functional).correct
    assert not v.verify(
        "```python\nclass Solution:\n    def add(self, a, b):\n        return a\n```", functional
    ).correct


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_private_tests_never_unpickle_objects():
    blob = base64.b64encode(zlib.compress(pickle.dumps(_Evil()))).decode()
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        lcb.decode_private_tests(blob)
    assert lcb.decode_private_tests(_private(STDIN)) == STDIN
