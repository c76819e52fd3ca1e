"""A report from paths and options: runs loaded, references chosen, leaderboard and comparison built."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..provenance import utc_now
from .compare import Comparison, compare_runs
from .load import load_runs
from .references import Reference, select_references
from .runs import ReportError, Run
from .table import Leaderboard, average_footnotes, build_leaderboard, leaderboard_dict, results_average

MAX_CHANGES_SHOWN = 100  # per benchmark in Markdown and HTML; report.json keeps them all


@dataclass(frozen=True)
class Report:
    runs: list[Run]
    references: list[Reference]
    board: Leaderboard
    comparison: Comparison | None
    generated_at: str


def build_report(paths: Sequence[Path], references: Sequence[str] | None = None, compare: bool = False) -> Report:
    if compare and len(paths) != 2:
        raise ReportError(f"--compare takes exactly two runs (old, new), got {len(paths)}")
    chosen = select_references(references)  # before loading: a misspelt name fails fast
    runs = load_runs(list(paths))
    comparison = compare_runs(runs[0], runs[1]) if compare else None
    return Report(runs, chosen, build_leaderboard(runs, chosen), comparison, utc_now())


def checkpoint_rows(run: Run, report: Report) -> list[dict[str, Any]]:
    """One row per evaluated checkpoint: benchmark scores and the report's averages."""
    rows = []
    for c in run.checkpoints:
        averages = {s.key: results_average(c.benchmarks, s) for s in report.board.averages}
        rows.append({
            "step": c.step,
            "path": str(c.path),
            "scores": {b: {"mean": r.score.mean, "stderr": r.score.stderr, "num_problems": r.num_problems}
                       for b, r in c.benchmarks.items()},
            "averages": {k: ({"mean": a.mean, "stderr": a.stderr} if a else None) for k, a in averages.items()},
        })  # fmt: skip
    return rows


def run_dict(run: Run) -> dict[str, Any]:
    return {
        "label": run.label,
        "title": run.title,
        "path": str(run.path),
        "kind": run.kind,
        "model": run.model,
        "step": run.step,
        "info": run.info,
        "benchmarks": {
            name: {
                "metrics": {k: asdict(m) for k, m in b.metrics.items()},
                "num_problems": b.num_problems,
                "num_samples": b.num_samples,
                "full_size": b.full_size,
                "settings": {**asdict(b.settings), "decoding": b.settings.decoding},
                "data_sha256": b.data_sha256,
                "source_name": b.source_name,
                "metric": b.metric_name,
                "samples_file": str(run.samples.files[name]) if name in run.samples.files else None,
            }
            for name, b in run.benchmarks.items()
        },
        "train_log_rows": len(run.train_log),
    }


def report_dict(report: Report) -> dict[str, Any]:
    from .. import __version__

    return {
        "generated_at": report.generated_at,
        "prime_eval_version": __version__,
        "runs": [run_dict(r) for r in report.runs],
        "references": [
            {
                "set": r.set.name,
                "model": r.model,
                "source": r.set.source,
                "settings": r.settings,
                "scores": r.scores,
                "published_avg": r.published_avg,
            }
            for r in report.references
        ],  # fmt: skip
        "leaderboard": leaderboard_dict(report.board),
        "average_notes": average_footnotes(report.board),
        "training": {r.label: checkpoint_rows(r, report) for r in report.runs if r.checkpoints},
        "comparison": report.comparison.to_dict() if report.comparison else None,
    }
