"""Score model responses to coding benchmarks (HumanEval, MBPP, PRIME's LeetCode set) against their tests.

For ``prime-eval score --benchmark {humaneval,mbpp,leetcode}``: input rows carry the task id (``task_id``) and a
``response``; ``load_code_tasks`` gives each task's tests and ``row_to_check`` turns a row into the arguments of
``CodeVerifier.verify``. Data files are read from the shared benchmark folder, never copied.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .verify.code_tests import CodeTests, split_asserts

BENCHMARK_FILES = {
    "humaneval": "humaneval/HumanEval.jsonl",
    "mbpp": "mbpp/new_mbpp.json",
    "leetcode": "leetcode/leetcode-test.jsonl",
}
ID_FIELD = "task_id"
# LeetCode solutions use these names without importing them, as the judge's own environment provides them.
LEETCODE_PREAMBLE = (
    "from typing import *\n"
    "from collections import *\n"
    "from functools import *\n"
    "from itertools import *\n"
    "from heapq import *\n"
    "from bisect import *\n"
    "from math import *\n"
    "import collections, functools, heapq, itertools, math, string, re, bisect, operator\n"
)


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".json":
        return json.loads(path.read_text())
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def task_from_row(benchmark: str, row: Mapping[str, Any]) -> CodeTests:
    """The tests of one benchmark row, in the shape ``CodeVerifier`` checks."""
    task_id = str(row[ID_FIELD])
    if benchmark == "humaneval":
        test = f"{row['test']}\n\ncheck({row['entry_point']})\n"
        return CodeTests(tests=(test,), prompt=row["prompt"], entry_point=row["entry_point"], task_id=task_id)
    if benchmark == "mbpp":
        return CodeTests(tests=tuple(row["test_list"]), preamble="\n".join(row["test_imports"]), task_id=task_id)
    return CodeTests(tests=split_asserts(row["test"]), preamble=LEETCODE_PREAMBLE, task_id=task_id)


def load_code_tasks(benchmark: str, data_dir: Path) -> dict[str, CodeTests]:
    """Every task of ``benchmark``, keyed by its id as a string (MBPP's integer ids too)."""
    if benchmark not in BENCHMARK_FILES:
        raise ValueError(f"unknown coding benchmark {benchmark!r}; known: {', '.join(BENCHMARK_FILES)}")
    path = Path(data_dir) / BENCHMARK_FILES[benchmark]
    if not path.is_file():
        raise FileNotFoundError(f"{benchmark} data not found at {path}")
    return {str(row[ID_FIELD]): task_from_row(benchmark, row) for row in _read_rows(path)}


def canonical_solutions(benchmark: str, data_dir: Path) -> dict[str, str]:
    """The reference solution of every task that ships one (HumanEval, MBPP), as a response would give it."""
    field = {"humaneval": "canonical_solution", "mbpp": "code"}.get(benchmark)
    if field is None:
        raise ValueError(f"{benchmark} ships no reference solutions")
    rows = _read_rows(Path(data_dir) / BENCHMARK_FILES[benchmark])
    return {str(row[ID_FIELD]): row[field] for row in rows}


def row_to_check(
    row: Mapping[str, Any], tasks: Mapping[str, CodeTests], *, where: str = ""
) -> tuple[str, CodeTests, dict[str, Any]]:
    """(response, reference, meta) for ``CodeVerifier.verify`` from one input row. Raises ``ValueError`` naming
    ``where`` (e.g. ``"gens.jsonl:12"``) and the task id for an unknown id or a malformed row."""
    prefix = f"{where}: " if where else ""
    if not isinstance(row, Mapping):
        raise ValueError(f"{prefix}expected a JSON object, got {type(row).__name__}")
    for key in (ID_FIELD, "response"):
        if key not in row:
            raise ValueError(f"{prefix}missing field {key!r}")
    if not isinstance(row["response"], str):
        raise ValueError(f"{prefix}'response' must be a string")
    task_id = str(row[ID_FIELD])
    if task_id not in tasks:
        raise ValueError(f"{prefix}unknown {ID_FIELD} {task_id!r}")
    return row["response"], tasks[task_id], {}
