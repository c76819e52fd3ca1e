"""Accuracy against N, one panel per benchmark (plus "overall" when there are several), from ``bon.json``.

matplotlib is optional: imported here only, with the Agg backend (no display needed), and when it is missing
the plot is skipped with a one-line warning instead of failing a bench whose numbers are already written.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

from prime_common.jsonl import prepare_output_dir, write_atomic

from .metrics import METRICS

LABELS = {
    "bon": "BoN (reward model)",
    "pass": "pass@N (oracle)",
    "random": "random",
    "maj": "majority",
    "weighted_maj": "weighted majority",
}


def _panels(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    panels = list(result["benchmarks"].items())
    if len(panels) > 1 and result.get("overall") is not None:
        panels.append(("overall", result["overall"]))
    return panels


def grid(count: int, max_columns: int = 4) -> tuple[int, int]:
    """(rows, columns) for ``count`` panels: at most ``max_columns`` wide, so many panels make a readable page
    rather than one strip thousands of pixels wide."""
    columns = min(count, max_columns)
    return -(-count // columns), columns


def plot_bon(result: dict[str, Any], path: Path) -> Path | None:
    """Write the plot to ``path``; ``None`` (and a warning on stderr) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("prime-eval bon: matplotlib is not installed; skipping the plot", file=sys.stderr)
        return None
    panels = _panels(result)
    rows, columns = grid(len(panels))
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 4 * rows), squeeze=False, sharey=True)
    flat = [ax for row in axes for ax in row]
    for ax in flat[len(panels) :]:
        ax.set_visible(False)
    for ax, (name, summary) in zip(flat, panels):
        metrics = summary["metrics"]
        for metric in METRICS:
            points = [(n, metrics[f"{metric}@{n}"]) for n in result["ns"] if f"{metric}@{n}" in metrics]
            if not points:
                continue
            xs = [n for n, _ in points]
            ys = [100 * m["mean"] for _, m in points]
            errs = [100 * m["stderr"] for _, m in points]
            ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3, label=LABELS[metric])
        ax.set_xscale("log", base=2)
        ax.set_xticks(result["ns"], [str(n) for n in result["ns"]])
        ax.set_xlabel("N (candidates per problem)")
        ax.set_title(f"{name} ({summary['num_problems']} problems)")
        ax.grid(alpha=0.3)
    for row in axes:
        row[0].set_ylabel("accuracy (%)")
    flat[len(panels) - 1].legend(loc="best", fontsize="small")
    rm = result["reward_model"]
    settings = ", ".join(f"{k}={v}" for k, v in rm.items() if k != "name" and not isinstance(v, (dict, list)))
    fig.suptitle(f"Best-of-N: {rm.get('name', '?')}" + (f" ({settings})" if settings else ""))
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=120)
    plt.close(fig)
    prepare_output_dir(path.parent)
    write_atomic(path, image.getvalue())  # a full disk leaves no half-drawn bon.png
    return path
