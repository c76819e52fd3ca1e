"""The leaderboard: runs beside published references, per benchmark and averaged the paper's way, every run cell
with its standard error and sample count, and a flag where a run's settings differ from a reference's.

Averages reuse ``prime_eval.metrics.weighted_average`` (PRIME's unweighted mean, each benchmark once) for runs and
``ReferenceSet.average`` for published rows; the benchmarks averaged are each selected reference set's
``average_of`` (the paper_math group, the runner's five math benchmarks, when no set gives one). A row lacking any of them gets no
average rather than a mean over fewer benchmarks, which would not be comparable.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from benchmarks.registry import groups

from ..metrics import weighted_average
from .references import Reference
from .runs import BenchResult, Run, Settings
from .stats import average_stderr

# Column order: the paper's table first, then anything else alphabetically.
PAPER_ORDER = (*groups()["paper_math"].benchmarks, "leetcode", "livecodebench")


@dataclass(frozen=True)
class AverageSpec:
    key: str  # column name: avg5, avg7
    benchmarks: tuple[str, ...]
    source: str  # where this way of averaging comes from


@dataclass(frozen=True)
class Cell:
    mean: float
    stderr: float | None = None
    num_problems: int | None = None
    num_samples: int | None = None
    notes: tuple[str, ...] = ()  # footnote markers


@dataclass(frozen=True)
class Row:
    label: str
    kind: str  # harness | training | lm-eval | reference
    model: str
    cells: dict[str, Cell]
    averages: dict[str, Cell | None]
    notes: tuple[str, ...] = ()
    settings: str = ""  # one line describing how the row's scores were made


@dataclass(frozen=True)
class Footnote:
    marker: str
    text: str


@dataclass(frozen=True)
class Leaderboard:
    columns: tuple[str, ...]
    averages: tuple[AverageSpec, ...]
    rows: tuple[Row, ...]
    footnotes: tuple[Footnote, ...]
    rank_by: str  # the average the rows are ordered by


class _Notes:
    """Footnotes deduplicated by text, lettered in order of first use."""

    def __init__(self) -> None:
        self.by_text: dict[str, str] = {}

    def mark(self, text: str) -> str:
        if text not in self.by_text:
            i = len(self.by_text)
            self.by_text[text] = chr(ord("a") + i % 26) + (str(i // 26) if i >= 26 else "")
        return self.by_text[text]

    def footnotes(self) -> tuple[Footnote, ...]:
        return tuple(Footnote(m, t) for t, m in self.by_text.items())


@cache  # the registry parses every definition file on each call
def _benchmark_max_tokens(benchmark: str) -> int | None:
    from benchmarks.registry import registry

    d = registry().get(benchmark)
    return d.max_tokens if d is not None else None


def reference_max_tokens(settings: dict[str, Any], benchmark: str) -> int | None:
    """The limit a reference used: a number, or "per benchmark ..." (each definition's PRIME limit), else unknown."""
    value = settings.get("max_tokens")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.startswith("per benchmark"):
        return _benchmark_max_tokens(benchmark)
    return None


def settings_differences(run: Settings, reference: dict[str, Any], ref_max_tokens: int | None) -> list[str]:
    """What differs between a run's settings and a reference's (decoding, n, temperature, prompt, max tokens);
    settings either side leaves unknown are not compared."""
    out = []
    ref_decoding = reference.get("decoding")
    if ref_decoding and run.decoding and run.decoding != ref_decoding:
        out.append(f"{run.decoding} decoding (reference: {ref_decoding})")
    ref_n = reference.get("n")
    if ref_n is not None and run.n is not None and run.n != ref_n:
        out.append(f"n={run.n} (reference: n={ref_n})")
    ref_t = reference.get("temperature")
    if ref_t is not None and run.decoding == "sampled" == ref_decoding and run.temperature != ref_t:
        out.append(f"temperature {run.temperature:g} (reference: {ref_t:g})")
    ref_prompt = reference.get("prompt")
    if ref_prompt and run.prompt and run.prompt != ref_prompt:
        out.append(f"prompt mode {run.prompt} (reference: {ref_prompt})")
    if ref_max_tokens is not None and run.max_tokens is not None and run.max_tokens != ref_max_tokens:
        out.append(f"max_tokens {run.max_tokens} (reference: {ref_max_tokens})")
    return out


def average_specs(references: list[Reference]) -> tuple[AverageSpec, ...]:
    specs: dict[tuple[str, ...], list[str]] = {}
    for r in references:
        if r.set.average_of:
            sources = specs.setdefault(tuple(r.set.average_of), [])
            if r.set.name not in sources:
                sources.append(r.set.name)
    # The runner's own paper_average (PRIME's five math benchmarks, `prime-eval run`'s default set) is always
    # offered: a math-only run then gets an average beside Table 1's seven-benchmark one.
    specs.setdefault(groups()["paper_math"].benchmarks, []).append("prime-eval run's paper_average")
    return tuple(AverageSpec(f"avg{len(b)}", b, ", ".join(s)) for b, s in specs.items())


def order_columns(names: set[str]) -> tuple[str, ...]:
    return tuple(b for b in PAPER_ORDER if b in names) + tuple(sorted(names - set(PAPER_ORDER)))


def _run_average(cells: dict[str, Cell], spec: AverageSpec) -> Cell | None:
    if any(b not in cells for b in spec.benchmarks):
        return None
    mean = weighted_average({b: cells[b].mean for b in spec.benchmarks})
    errors = [cells[b].stderr for b in spec.benchmarks]
    stderr = average_stderr(errors) if all(e is not None for e in errors) else None
    return Cell(mean, stderr)


def results_average(results: dict[str, BenchResult], spec: AverageSpec) -> Cell | None:
    """The average of one set of benchmark results (a checkpoint's, in the training tables and plots)."""
    return _run_average({b: Cell(r.score.mean, r.score.stderr) for b, r in results.items()}, spec)


def _reference_average(ref: Reference, spec: AverageSpec, notes: _Notes) -> Cell | None:
    if tuple(ref.set.average_of) == spec.benchmarks:
        recomputed = ref.set.average(ref.model)
        mean = recomputed / 100 if recomputed is not None else None
    elif all(b in ref.scores for b in spec.benchmarks):
        mean = weighted_average({b: ref.scores[b] for b in spec.benchmarks})
    else:
        mean = None
    if mean is None:
        return None
    marks = ()
    published = ref.published_avg
    if (
        published is not None
        and tuple(ref.set.average_of) == spec.benchmarks
        and round(published, 3) != round(mean, 3)
    ):
        marks = (
            notes.mark(f"published average {100 * published:.1f}; the mean of the published row is {100 * mean:.1f}"),
        )
    return Cell(mean, notes=marks)


def _describe_reference(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in settings.items())


def _run_cell(result: BenchResult, references: list[Reference], notes: _Notes) -> Cell:
    marks = []
    if result.subset:
        marks.append(notes.mark("a subset: fewer problems than the benchmark has (the cell's count shows how many)"))
    if result.metric_name is not None:
        marks.append(notes.mark(f"lm-eval task {result.source_name or result.name}, metric {result.metric_name}"))
    for ref in references:
        if result.name not in ref.scores:
            continue
        diffs = settings_differences(result.settings, ref.settings, reference_max_tokens(ref.settings, result.name))
        if diffs:
            marks.append(
                notes.mark(
                    f"settings differ from {ref.set.name} ({_describe_reference(ref.settings)}): " + "; ".join(diffs)
                )
            )
    return Cell(
        result.score.mean, result.score.stderr, result.num_problems, result.num_samples, tuple(dict.fromkeys(marks))
    )


def build_leaderboard(runs: list[Run], references: list[Reference]) -> Leaderboard:
    notes = _Notes()
    specs = average_specs(references)
    columns = order_columns({b for r in runs for b in r.benchmarks} | {b for ref in references for b in ref.scores})
    rows = []
    for run in runs:
        cells = {b: _run_cell(result, references, notes) for b, result in run.benchmarks.items()}
        averages = {s.key: _run_average(cells, s) for s in specs}
        rows.append(Row(run.title, run.kind, run.model, cells, averages, settings=run.settings_summary()))
    for ref in references:
        cells = {b: Cell(v) for b, v in ref.scores.items()}
        averages = {s.key: _reference_average(ref, s, notes) for s in specs}
        rows.append(
            Row(ref.label, "reference", ref.model, cells, averages, settings=_describe_reference(ref.settings))
        )
    # The user's runs first (published rows above them pushed the runs off the first screen), then the references;
    # each group ranked by the first average any run has (all runs may lack Table 1's code benchmarks), best first,
    # rows without that average keeping their order at the bottom of their group.
    first = next((s.key for s in specs if any(r.averages[s.key] for r in rows if r.kind != "reference")), specs[0].key)
    ranked = sorted(
        rows,
        key=lambda r: (
            r.kind == "reference",
            r.averages[first] is None,
            -(r.averages[first].mean if r.averages[first] else 0),
        ),
    )
    return Leaderboard(columns, specs, tuple(ranked), notes.footnotes(), first)


def average_footnotes(board: Leaderboard) -> list[str]:
    return [
        f"{s.key}: unweighted mean over {', '.join(s.benchmarks)} (each benchmark once, as in {s.source}); "
        "a row missing any of them has none; its standard error assumes independent benchmarks"
        for s in board.averages
    ]


def leaderboard_dict(board: Leaderboard) -> dict[str, Any]:
    def cell(c: Cell | None) -> dict[str, Any] | None:
        if c is None:
            return None
        return {"mean": c.mean, "stderr": c.stderr, "num_problems": c.num_problems, "num_samples": c.num_samples,
                "notes": list(c.notes)}  # fmt: skip

    return {
        "columns": list(board.columns),
        "averages": [{"key": s.key, "benchmarks": list(s.benchmarks), "source": s.source} for s in board.averages],
        "rows": [
            {
                "label": r.label,
                "kind": r.kind,
                "model": r.model,
                "settings": r.settings,
                "cells": {b: cell(c) for b, c in r.cells.items()},
                "averages": {k: cell(c) for k, c in r.averages.items()},
            }
            for r in board.rows
        ],
        "footnotes": [{"marker": f.marker, "text": f.text} for f in board.footnotes],
        "ranked_by": board.rank_by,
    }
