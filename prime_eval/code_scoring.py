"""Score model responses to coding benchmarks (HumanEval, MBPP, PRIME's LeetCode set) against their tests.

Used by ``prime-eval score --benchmark {humaneval,mbpp,leetcode}``: input rows carry the task id (``task_id``) and a
``response``; output rows keep every input field and add ``correct``, ``score``, ``status`` and ``details``
(per-test outcomes). Data files are read from the shared benchmark folder, never copied.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .verify.code import CodeConfig, CodeVerifier
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


def _task(benchmark: str, row: Mapping[str, Any]) -> CodeTests:
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
    return {str(row[ID_FIELD]): _task(benchmark, row) for row in _read_rows(path)}


def canonical_solutions(benchmark: str, data_dir: Path) -> dict[str, str]:
    """The reference solution of every task that ships one (HumanEval, MBPP), as a response would give it."""
    field = {"humaneval": "canonical_solution", "mbpp": "code"}.get(benchmark)
    if field is None:
        raise ValueError(f"{benchmark} ships no reference solutions")
    rows = _read_rows(Path(data_dir) / BENCHMARK_FILES[benchmark])
    return {str(row[ID_FIELD]): row[field] for row in rows}


def row_to_check(row: Mapping[str, Any], tasks: Mapping[str, CodeTests], *, where: str = "") -> tuple[str, CodeTests]:
    """(response, reference) for one input row; ``where`` (e.g. ``"gens.jsonl:12"``) prefixes error messages."""
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
    return row["response"], tasks[task_id]


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSONL file; a line that is not a JSON object raises ``ValueError`` naming it."""
    rows = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows


def score_rows(
    benchmark: str,
    rows: Iterable[Mapping[str, Any]],
    data_dir: Path,
    *,
    config: CodeConfig | None = None,
    workers: int | None = None,
    progress: bool | None = None,
    source: str = "input",
) -> list[dict[str, Any]]:
    """Each row with ``correct``, ``score``, ``status`` and ``details`` added. Every row is validated before any
    runs; errors name ``source`` and the 1-based row number."""
    from .verify.pool import verify_batch

    tasks = load_code_tasks(benchmark, data_dir)
    rows = list(rows)
    checks = [row_to_check(row, tasks, where=f"{source}:{i}") for i, row in enumerate(rows, 1)]
    verifier = CodeVerifier(config or CodeConfig())
    verdicts = verify_batch(
        verifier,
        [response for response, _ in checks],
        [reference for _, reference in checks],
        workers=workers,
        timeout_s=verifier.config.timeout_s + 10,
        progress=progress,
    )
    out = []
    for row, verdict in zip(rows, verdicts):
        result = verdict.to_dict()
        out.append(
            {
                **row,
                "correct": result["correct"],
                "score": result["score"],
                "status": result["status"],
                "details": result["details"],
            }
        )
    return out


def score_file(benchmark: str, input_path: Path, output_path: Path, data_dir: Path, **options: Any) -> dict[str, Any]:
    """Score a JSONL file of generations into another; returns a summary (n, correct, mean score)."""
    rows = read_rows(input_path)
    scored = score_rows(benchmark, rows, data_dir, source=str(input_path), **options)
    with open(output_path, "w") as f:
        for row in scored:
            f.write(json.dumps(row) + "\n")
    n = len(scored)
    return {
        "benchmark": benchmark,
        "n": n,
        "correct": sum(r["correct"] for r in scored),
        "accuracy": sum(r["correct"] for r in scored) / n if n else 0.0,
        "mean_score": sum(r["score"] for r in scored) / n if n else 0.0,
    }
