"""Reading the math benchmarks' local files (the copies in ``../shared/benchmarks``, see its SOURCES.md) into one
row shape, with each benchmark's gold taken the way PRIME's evaluation took it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prime_eval.verify.extract import last_boxed

from .local_data import data_dir


@dataclass(frozen=True)
class MathRow:
    benchmark: str
    id: str
    problem: str
    gold: str
    solution: str | None  # a worked reference solution, where the data has one


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _aime24(d: Path) -> list[MathRow]:
    return [
        MathRow("aime24", str(r["id"]), r["problem"], str(r["answer"]).lstrip("0") or "0", r.get("solution"))
        for r in _jsonl(d / "aime24" / "test.jsonl")
    ]


def _aimo(name: str, path: Path) -> list[MathRow]:
    return [MathRow(name, str(r["id"]), r["question"], str(r["answer"]), r.get("solution")) for r in _jsonl(path)]


def _amc23(d: Path) -> list[MathRow]:
    return [
        MathRow("amc23", str(r["id"]), r["problem"], str(r["answer"]), None)
        for r in _jsonl(d / "amc23" / "test.jsonl")
    ]


def _math500(d: Path) -> list[MathRow]:
    return [
        MathRow("math500", r["unique_id"], r["problem"], r["answer"], r["solution"])
        for r in _jsonl(d / "math500" / "test.jsonl")
    ]


def _minerva(d: Path) -> list[MathRow]:
    rows = []
    for r in _jsonl(d / "minerva_math" / "test.jsonl"):
        gold = last_boxed(r["solution"], join_adjacent=False)
        rows.append(MathRow("minerva_math", str(r["idx"]), r["problem"], gold or "", r["solution"]))
    return rows


def _olympiad(d: Path) -> list[MathRow]:
    rows = []
    for r in _jsonl(d / "olympiadbench" / "test.jsonl"):
        solution = r["solution"][0] if r.get("solution") else None
        rows.append(MathRow("olympiadbench", str(r["id"]), r["question"], r["final_answer"][0], solution))
    return rows


LOADERS: dict[str, Callable[[Path], list[MathRow]]] = {
    "aime24": _aime24,
    "aime_prime": lambda d: _aimo("aime_prime", d / "aime24" / "aimo-validation-aime.jsonl"),
    "amc": lambda d: _aimo("amc", d / "amc" / "aimo-validation-amc.jsonl"),
    "amc23": _amc23,
    "math500": _math500,
    "minerva_math": _minerva,
    "olympiadbench": _olympiad,
}


def load_math(name: str, directory: Path | None = None) -> list[MathRow]:
    if name not in LOADERS:
        raise KeyError(f"unknown math benchmark {name!r}; known: {', '.join(LOADERS)}")
    return LOADERS[name](directory or data_dir())
