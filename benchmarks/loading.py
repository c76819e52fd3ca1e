"""Turning a benchmark definition into problems: rows from the local file, the Hub or a generator, filtered,
mapped to (id, question, reference), with a content hash of exactly what was read."""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prime_common.errors import UserError
from prime_common.jsonl import read_input_bytes, read_jsonl

from .boxes import last_box
from .code_tasks import task_from_row
from .local_data import data_dir as default_data_dir
from .registry import BenchmarkDef, is_packaged

SOURCES = ("auto", "local", "hf")


class DataError(UserError, RuntimeError):
    """The data of a benchmark cannot be read: a message for the user."""


@dataclass(frozen=True)
class Problem:
    benchmark: str
    id: str
    question: str
    reference: Any  # a gold answer string (math) or CodeTests (code)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedBenchmark:
    definition: BenchmarkDef
    problems: list[Problem]
    source: dict[str, Any]  # kind, path or hub id, split, revision, rows, sha256


_GOLD_FUNCTIONS = {
    "lstrip_zeros": lambda v: str(v).lstrip("0") or "0",  # AIME golds as PRIME took them: "073" -> "73"
    "first": lambda v: v[0],  # OlympiadBench: final_answer is a one-element list
    "boxed": lambda v: last_box(str(v)) or "",  # Minerva: the solution's last box
}


def gold_of(row: dict[str, Any], expression: str) -> Any:
    """Evaluate a field expression of the definition (gold, solution): a field name, or ``function(field)``.
    A null field stays ``None`` (AMC rows have no solution)."""
    if expression.endswith(")") and "(" in expression:
        func, _, arg = expression[:-1].partition("(")
        if func not in _GOLD_FUNCTIONS:
            raise ValueError(f"unknown gold function {func!r}; known: {', '.join(_GOLD_FUNCTIONS)}")
        return None if row[arg] is None else _GOLD_FUNCTIONS[func](row[arg])
    value = row[expression]
    return str(value) if isinstance(value, (int, float)) else value


def _read_local(path: Path) -> tuple[list[dict[str, Any]], str]:
    try:
        raw = read_input_bytes(path)  # .jsonl.gz / .json.gz too
        rows = json.loads(raw) if path.name.removesuffix(".gz").endswith(".json") else read_jsonl(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:  # a .json file's one document
        raise DataError(f"{path}: not JSON ({exc})") from None
    except ValueError as exc:  # a damaged .gz, a JSONL line that is no object: named by path (and line)
        raise DataError(str(exc)) from None
    return rows, hashlib.sha256(raw).hexdigest()


def _read_hub(d: BenchmarkDef) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    try:
        import datasets
    except ImportError as exc:
        raise DataError(f"{d.name}: reading from the Hub needs `pip install datasets`") from exc
    src = d.data
    try:
        ds = datasets.load_dataset(src.hf_path, src.hf_config, split=src.split, revision=src.revision)
    except Exception as exc:  # offline, gated, renamed: the user needs the reason, not our traceback
        local = f" ({d.data.local} under --data-dir)" if d.data.local else ""
        raise DataError(
            f"{d.name}: no local data{local} and cannot load {src.hf_path!r} from the Hub "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from exc
    rows = [dict(r) for r in ds]
    digest = hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()
    return rows, {"kind": "hf", "path": src.hf_path, "config": src.hf_config, "split": src.split,
                  "revision": src.revision, "fingerprint": getattr(ds, "_fingerprint", None), "sha256": digest}  # fmt: skip


def _read_livecodebench(d: BenchmarkDef, local_dir: Path | None, source: str) -> tuple[list[dict], dict[str, Any]]:
    from . import livecodebench as lcb

    version = d.extra.get("release_version", "release_v4")
    if source == "local" and local_dir is None:
        raise DataError(f"{d.name}: local data not found ({d.data.local}); set PRIME_BENCHMARK_DATA or --data-dir")
    try:
        rows, paths = lcb.read_rows(version, local_dir, d.data.revision)
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise DataError(f"{d.name}: {exc}") from exc
    start, end = d.extra.get("start_date"), d.extra.get("end_date")
    rows = [r for r in rows if lcb.in_window(r, start, end)]
    for r in rows:
        r["question_content"] = lcb.question_of(r)
    digest = hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()
    info = {"kind": "local" if local_dir else "hf", "paths": paths, "release_version": version,
            "window": [start, end], "sha256": digest}  # fmt: skip
    return rows, info


def _read_generated(d: BenchmarkDef, split: str | None, size: int | None, seed: int | None) -> tuple[list, dict]:
    """Rows of a generated benchmark. The fingerprint names the function, its module's ``VERSION`` and every
    parameter, besides the hash of the rows: a changed generator or difficulty shows in results.json."""
    src = d.data
    module_name, _, func_name = src.generator.partition(":")
    try:
        module = importlib.import_module(module_name)
        func = getattr(module, func_name)
    except (ImportError, AttributeError) as exc:
        raise DataError(f"{d.name}: cannot import generator {src.generator!r} ({exc})") from exc
    call = {"split": split or src.split, "size": src.size if size is None else size,
            "seed": src.seed if seed is None else seed}  # fmt: skip
    try:
        rows = func(**call, **src.params)
    except (ValueError, TypeError) as exc:  # bad parameters: the generator says which
        raise DataError(f"{d.name}: {exc}") from exc
    digest = hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()
    info = {"kind": "generator", "generator": src.generator, "version": getattr(module, "VERSION", None),
            **call, "params": dict(src.params), "sha256": digest}  # fmt: skip
    return rows, info


def load_benchmark(
    d: BenchmarkDef,
    *,
    data_dir: Path | None = None,
    source: str = "auto",
    limit: int | None = None,
    split: str | None = None,
    size: int | None = None,
    seed: int | None = None,
) -> LoadedBenchmark:
    """Read ``d``'s problems. ``source="auto"`` takes the local file when it exists, else the Hub. A generated
    benchmark ignores ``source`` and ``data_dir``; ``split``, ``size`` and ``seed`` override its definition (the
    trainer reads ``arith``'s train split this way); other benchmarks have only the split their definition reads."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}")
    if d.data.generator:
        rows, info = _read_generated(d, split, size, seed)
        return _finish(d, rows, info, limit)
    if (split is not None and split != d.data.split) or size is not None or seed is not None:
        raise DataError(
            f"{d.name}: only generated benchmarks take split, size or seed (its data is its {d.data.split} split)"
        )
    local = _local_path(d, data_dir) if d.data.local and source != "hf" else None
    if d.code_format == "livecodebench":
        rows, info = _read_livecodebench(d, local if local is not None and local.is_dir() else None, source)
    elif local is not None and local.is_file():
        rows, digest = _read_local(local)
        info: dict[str, Any] = {"kind": "local", "path": str(local), "sha256": digest}
    elif source == "local" or not d.data.hf_path:
        raise DataError(
            f"{d.name}: local data not found ({local or d.data.local}); set PRIME_BENCHMARK_DATA or --data-dir"
        )
    else:
        rows, info = _read_hub(d)
    if d.data.filter_field:
        rows = [r for r in rows if any(c in str(r.get(d.data.filter_field, "")) for c in d.data.filter_contains)]
    return _finish(d, rows, info, limit)


def _local_path(d: BenchmarkDef, data_dir: Path | None) -> Path | None:
    """``data.local`` as given when absolute; else under ``data_dir`` when given; else a user's definition reads
    it beside its YAML file, and a packaged one under the shared benchmark folder (None when there is none)."""
    local = Path(d.data.local).expanduser()
    if local.is_absolute():
        return local
    if data_dir is not None:
        return Path(data_dir) / local
    if not is_packaged(d):
        return Path(d.path).parent / local
    try:
        return default_data_dir() / local
    except FileNotFoundError:
        return None


def _finish(d: BenchmarkDef, rows: list[dict[str, Any]], info: dict[str, Any], limit: int | None) -> LoadedBenchmark:
    info["rows"] = len(rows)
    problems = [_problem(d, row) for row in rows]
    ids = [p.id for p in problems]
    if len(set(ids)) != len(ids):
        raise DataError(f"{d.name}: duplicate ids in {info.get('path')}: fields.id must be unique")
    return LoadedBenchmark(d, problems[:limit] if limit else problems, info)


def _problem(d: BenchmarkDef, row: dict[str, Any]) -> Problem:
    try:
        pid = str(row[d.id_field])
        question = row[d.question_field]
        if d.verifier == "math":
            reference = gold_of(row, d.gold)
        elif d.code_format == "livecodebench":
            from .livecodebench import task_from_row as lcb_task

            reference = lcb_task(row)
        else:
            reference = task_from_row(d.code_format, row, pid)
        solution = gold_of(row, d.solution) if d.solution else None
    except KeyError as exc:
        raise DataError(f"{d.name}: a row has no field {exc} (fields: {', '.join(sorted(row))})") from exc
    return Problem(d.name, pid, question, reference, {"solution": solution} if solution else {})
