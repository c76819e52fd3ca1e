"""LiveCodeBench code generation: its release files, contest-date windows and two test styles.

The Hub dataset ``livecodebench/code_generation_lite`` is a set of JSONL files, one per release increment
(``test.jsonl`` = release_v1, ``test2.jsonl`` adds release_v2, ...). Its loading script no longer runs under
``datasets`` 4 (LiveCodeBench #108), so prime reads the files themselves, from a local folder when given, else
through ``huggingface_hub``. Private tests are base64 of zlib of a pickled JSON string; they are unpickled with an
unpickler that accepts nothing but plain strings, so a tampered file cannot run code here.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from pathlib import Path
from typing import Any

from prime_common.jsonl import read_jsonl

from .code_tasks import LEETCODE_PREAMBLE, CodeTests, StdioCase

HUB_REPO = "livecodebench/code_generation_lite"
RELEASE_FILES = ["test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl", "test5.jsonl", "test6.jsonl"]
RELEASES = {f"release_v{i + 1}": RELEASE_FILES[: i + 1] for i in range(len(RELEASE_FILES))}


class _StringsOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a test file")


def decode_private_tests(blob: str) -> list[dict[str, Any]]:
    if not blob:
        return []
    try:
        return json.loads(blob)  # some rows store plain JSON
    except json.JSONDecodeError:
        pass
    raw = zlib.decompress(base64.b64decode(blob))
    text = _StringsOnly(io.BytesIO(raw)).load()
    if not isinstance(text, str):
        raise ValueError("private tests did not decode to a JSON string")
    return json.loads(text)


def release_files(version: str) -> list[str]:
    if version not in RELEASES:
        raise ValueError(f"unknown LiveCodeBench release {version!r}; known: {', '.join(RELEASES)}")
    return RELEASES[version]


def read_rows(
    version: str, local_dir: Path | None, revision: str | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of every file of ``version``, and the paths read. Files missing from ``local_dir`` come from the Hub."""
    rows, paths = [], []
    for name in release_files(version):
        path = local_dir / name if local_dir is not None else None
        if path is None or not path.is_file():
            path = _download(name, revision)
        rows.extend(read_jsonl(path))
        paths.append(str(path))
    return rows, paths


def _download(name: str, revision: str | None) -> Path:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:
        raise FileNotFoundError(f"LiveCodeBench file {name} is not local and huggingface_hub is missing") from exc
    return Path(hf_hub_download(HUB_REPO, name, repo_type="dataset", revision=revision))


def in_window(row: dict[str, Any], start: str | None, end: str | None) -> bool:
    """Contest dates are ISO strings ("2023-08-21T00:00:00"); the window is inclusive, by day."""
    day = str(row.get("contest_date", ""))[:10]
    return (start is None or day >= start) and (end is None or day <= end)


def task_from_row(row: dict[str, Any]) -> CodeTests:
    tests = json.loads(row["public_test_cases"]) + decode_private_tests(row.get("private_test_cases", ""))
    if not tests:
        raise ValueError(f"{row.get('question_id')}: no tests")
    task_id = str(row["question_id"])
    if tests[0].get("testtype") == "functional":
        func = json.loads(row.get("metadata") or "{}").get("func_name")
        if not func:
            raise ValueError(f"{task_id}: functional tests without metadata.func_name")
        snippets = tuple(_functional_test(func, t["input"], t["output"]) for t in tests)
        return CodeTests(tests=snippets, preamble=LEETCODE_PREAMBLE + "import json\n", task_id=task_id)
    cases = tuple(StdioCase(t["input"], t["output"]) for t in tests)
    return CodeTests(kind="stdio", cases=cases, task_id=task_id)


def _functional_test(func: str, inputs: str, output: str) -> str:
    # Each input line is one JSON argument; JSON (true/null) is parsed as JSON, not as Python source.
    args = [line for line in inputs.split("\n") if line.strip()]
    return f"assert Solution().{func}(*[json.loads(a) for a in {args!r}]) == json.loads({output!r})"


def question_of(row: dict[str, Any]) -> str:
    """The problem statement, with the starter code where the problem has one (functional problems)."""
    starter = row.get("starter_code") or ""
    text = row["question_content"]
    if starter.strip():
        text += f"\n\nYou will use the following starter code to write the solution:\n```python\n{starter}\n```"
    return text
