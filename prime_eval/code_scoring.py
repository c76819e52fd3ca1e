"""Score responses to a code benchmark's tasks by task id (``prime-eval score --benchmark``, the ``prime_code``
metric): input rows carry the task id and a ``response``; ``load_code_tasks`` reads the benchmark through the
registry and ``load_benchmark``, as ``run`` does, and ``row_to_check`` turns a row into the arguments of
``CodeVerifier.verify``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.code_tasks import CodeTests
from benchmarks.loading import load_benchmark
from benchmarks.registry import UnknownBenchmark, get_benchmark, registry

ID_FIELD = "task_id"


def load_code_tasks(
    benchmark: str, data_dir: Path | None = None, include_path: str | Path | None = None
) -> dict[str, CodeTests]:
    """Every task of the code benchmark ``benchmark``, keyed by its id as a string (MBPP's integer ids too)."""
    definition = get_benchmark(benchmark, include_path)
    if definition.verifier != "code":
        code = [d.name for d in registry(include_path).values() if d.verifier == "code"]
        raise UnknownBenchmark(f"{benchmark} is not a code benchmark; code benchmarks: {', '.join(code)}")
    return {p.id: p.reference for p in load_benchmark(definition, data_dir=data_dir).problems}


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
