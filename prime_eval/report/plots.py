"""The report's figures as inline SVG: accuracy per benchmark, pass@k / maj@k against k, scores against training
step, and a comparison's differences.

SVG keeps the page one self-contained file that opens from disk: text is drawn as paths (no font files), and
every figure gets its own id salt so that the ids of several inline figures never collide in one document (an
id clash makes one figure clip to another's rectangle). matplotlib is optional: without it there are no plots.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass

from .compare import MCNEMAR, Comparison
from .references import Reference
from .runs import Run
from .stats import mcnemar_interval
from .table import Leaderboard, order_columns, results_average

MAX_REFERENCE_MARKERS = 12
_TRAIN_KEYS = ("rollout/accuracy", "batch/accuracy")


@dataclass(frozen=True)
class Plot:
    key: str  # unique in the page; also the figure's SVG id salt
    title: str
    svg: str


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _svg(fig, key: str) -> str:
    import matplotlib
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": key, "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return _prefix_ids(text[text.index("<svg") :], key)  # the XML prolog and DOCTYPE are not allowed inside HTML


def _prefix_ids(svg: str, key: str) -> str:
    """Every id (and reference to one) prefixed with the figure's key: matplotlib salts its clip-path ids, but the
    glyph ids of text drawn as paths (``DejaVuSans-31``) are the same in every figure, and ids must be unique in
    one HTML document."""
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{key}-{m.group(1)}"', svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{key}-{m.group(1)}"', svg)
    return re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{key}-{m.group(1)})", svg)


def _pct(x: float | None) -> float:
    return 100 * x if x is not None else math.nan


def _percent_axis(ax, min_span: float = 10.0) -> None:
    """Accuracy axes stay inside 0-100 % and span at least ``min_span`` points: all-zero (or flat) curves would
    otherwise get matplotlib's ±0.04 % window, which makes noise-free zeros look like a signal."""
    lo, hi = ax.get_ylim()
    if hi - lo < min_span:
        middle = (lo + hi) / 2
        lo, hi = middle - min_span / 2, middle + min_span / 2
    lo, hi = max(lo, 0.0), min(hi, 100.0)
    if hi - lo < min_span:
        lo, hi = (0.0, min_span) if lo <= 0 else (100.0 - min_span, 100.0)
    ax.set_ylim(lo, hi)


def _integer_steps(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def accuracy_plot(board: Leaderboard, runs: list[Run], references: list[Reference]) -> Plot | None:
    plt = _pyplot()
    if plt is None or not runs:
        return None
    columns = list(order_columns({b for r in runs for b in r.benchmarks}))
    averages = [s.key for s in board.averages]
    rows = {r.label: r for r in board.rows}
    xs = columns + [a for a in averages if any(rows[run.title].averages.get(a) for run in runs)]
    width = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(xs) + 2), 4.2))
    for i, run in enumerate(runs):
        row = rows[run.title]
        cells = [row.cells.get(x) or row.averages.get(x) for x in xs]
        pos = [j - 0.4 + width * (i + 0.5) for j in range(len(xs))]
        bars = ax.bar(
            pos, [_pct(c.mean) if c else math.nan for c in cells], width,
            yerr=[_pct(c.stderr) if c and c.stderr is not None else 0 for c in cells], capsize=3, label=run.title,
        )  # fmt: skip
        # A score of 0 draws no bar and would read as "not run": mark it on the axis in the run's colour.
        zeros = [p for p, c in zip(pos, cells) if c and c.mean == 0]
        if zeros:
            ax.plot(zeros, [0] * len(zeros), linestyle="none", marker="_", markersize=14, markeredgewidth=3,
                    color=bars.patches[0].get_facecolor(), clip_on=False, gid="zero-score")  # fmt: skip
            for p in zeros:
                ax.annotate("0", (p, 0), xytext=(0, 3), textcoords="offset points", ha="center", fontsize="x-small")
    shown_refs = references[:MAX_REFERENCE_MARKERS]
    for k, ref in enumerate(shown_refs):
        row = rows[ref.label]
        values = [(j, row.cells.get(x) or row.averages.get(x)) for j, x in enumerate(xs)]
        # Each reference at its own offset within the group: stacked on one x, ten markers read as one.
        offset = -0.4 + 0.8 * (k + 0.5) / len(shown_refs)
        points = [(j + offset, _pct(c.mean)) for j, c in values if c]
        if points:
            ax.plot(*zip(*points), linestyle="none", marker="os^vD<>ph*Xd"[k % 12], markerfacecolor="none",
                    color="0.35", label=ref.label)  # fmt: skip
    ax.set_xticks(range(len(xs)), xs, rotation=20)
    _percent_axis(ax)
    ax.set_ylabel("accuracy (%), error bars: ±1 standard error")
    shown = "" if len(references) <= MAX_REFERENCE_MARKERS else f" (markers: first {MAX_REFERENCE_MARKERS} references)"
    ax.set_title("Accuracy per benchmark" + shown)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    return Plot("accuracy", "Accuracy per benchmark", _svg(fig, "accuracy"))


def curves_plot(runs: list[Run]) -> Plot | None:
    plt = _pyplot()
    with_curves = [r for r in runs if r.has_curves]
    if plt is None or not with_curves:
        return None
    names = list(order_columns({b for r in with_curves for b, res in r.benchmarks.items() if res.curve("pass")}))
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.8), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], names):
        ks: set[int] = set()
        for i, run in enumerate(with_curves):
            result = run.benchmarks.get(name)
            if result is None:
                continue
            color = f"C{i % 10}"
            for kind, style in (("pass", "-"), ("maj", "--")):
                points = result.curve(kind)
                if points:
                    ks.update(k for k, _ in points)
                    ax.errorbar([k for k, _ in points], [_pct(m.mean) for _, m in points],
                                yerr=[_pct(m.stderr) if m.stderr is not None else 0 for _, m in points],
                                linestyle=style, marker="o", capsize=3, color=color, label=f"{run.title} {kind}@k")  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(ks), [str(k) for k in sorted(ks)])
        ax.set_xlabel("k (samples)")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy (%)")
    axes[0][-1].legend(fontsize="x-small", loc="best")
    fig.suptitle("pass@k (solid) and maj@k (dashed) against k")
    return Plot("curves", "pass@k and maj@k against k", _svg(fig, "curves"))


def steps_plot(run: Run, board: Leaderboard, index: int) -> Plot | None:
    """Each benchmark's score at every evaluated checkpoint, the paper average, and training accuracy if logged."""
    plt = _pyplot()
    if plt is None or not run.checkpoints:
        return None
    train_keys = [k for k in _TRAIN_KEYS if any(k in row for row in run.train_log)]
    fig, axes = plt.subplots(1, 2 if train_keys else 1, figsize=(11 if train_keys else 6.5, 4), squeeze=False)
    ax = axes[0][0]
    steps = [c.step for c in run.checkpoints]
    for name in order_columns({b for c in run.checkpoints for b in c.benchmarks}):
        points = [(c.step, c.benchmarks[name].score) for c in run.checkpoints if name in c.benchmarks]
        ax.errorbar([s for s, _ in points], [_pct(m.mean) for _, m in points],
                    yerr=[_pct(m.stderr) if m.stderr is not None else 0 for _, m in points], marker="o", capsize=3,
                    label=name)  # fmt: skip
    spec = board.averages[0]
    averages = [(c.step, results_average(c.benchmarks, spec)) for c in run.checkpoints]
    avg_points = [(s, a.mean) for s, a in averages if a is not None]
    if avg_points:
        ax.plot(*zip(*[(s, _pct(m)) for s, m in avg_points]), color="black", linewidth=2.2, label=spec.key)
    if len(steps) <= 12:  # label every checkpoint while that stays readable
        ax.set_xticks(steps)
    else:
        _integer_steps(ax)
    _percent_axis(ax)
    ax.set_xlabel("training step")
    ax.set_ylabel("eval accuracy (%)")
    ax.set_title(f"{run.label}: evaluation by checkpoint")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", loc="best")
    if train_keys:
        ax2 = axes[0][1]
        for key in train_keys:
            rows = sorted((r["step"], r[key]) for r in run.train_log if isinstance(r.get(key), (int, float)))
            ax2.plot([s for s, _ in rows], [_pct(v) for _, v in rows], label=key)
        _integer_steps(ax2)
        _percent_axis(ax2)
        ax2.set_xlabel("training step")
        ax2.set_ylabel("training accuracy (%)")
        ax2.set_title("metrics.jsonl")
        ax2.grid(alpha=0.3)
        ax2.legend(fontsize="x-small", loc="best")
    key = f"steps-{index}"
    return Plot(key, f"{run.label}: scores against training step", _svg(fig, key))


def difference_interval(b) -> tuple[float, float]:
    """95 % interval of a benchmark's difference in points, consistent with its test and inside the possible
    range: McNemar's exact (Clopper-Pearson on the discordant pairs) for binary verdicts, which excludes 0 exactly
    when p < 0.05; else the normal interval of the paired mean, clipped to [-100, 100]."""
    if b.test == MCNEMAR and b.shared:
        lo, hi = mcnemar_interval(b.a_better, b.b_better, b.shared)
        return 100 * lo, 100 * hi
    half = 1.96 * _pct(b.delta_stderr) if b.delta_stderr is not None else 0.0
    d = _pct(b.delta)
    return max(d - half, -100.0), min(d + half, 100.0)


def compare_plot(comparison: Comparison) -> Plot | None:
    plt = _pyplot()
    if plt is None or not comparison.benchmarks:
        return None
    benches = comparison.benchmarks
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(benches) + 1.6))
    ys = list(range(len(benches)))
    deltas = [_pct(b.delta) for b in benches]
    intervals = [difference_interval(b) for b in benches]
    xerr = [[d - lo for d, (lo, _) in zip(deltas, intervals)], [hi - d for d, (_, hi) in zip(deltas, intervals)]]
    colors = ["C2" if d > 0 else "C3" if d < 0 else "0.5" for d in deltas]
    ax.barh(ys, deltas, xerr=xerr, color=colors, capsize=3)
    for y, b, d, (lo, hi) in zip(ys, benches, deltas, intervals):
        p = f"p = {b.p_value:.3g}" if b.p_value is not None else "no paired test"
        # past the interval's end, not on it
        ax.annotate(p, (hi if d >= 0 else lo, y), xytext=(6 if d >= 0 else -6, 0), textcoords="offset points",
                    va="center", ha="left" if d >= 0 else "right", fontsize="x-small")  # fmt: skip
    # Room for the p-value labels inside the axes, so that none runs into the tick labels or the axis title.
    lo = min([0.0, *(i[0] for i in intervals)])
    hi = max([0.0, *(i[1] for i in intervals)])
    pad = 0.35 * max(hi - lo, 1.0)
    ax.set_xlim(lo - pad, hi + pad)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(ys, [b.benchmark for b in benches])
    ax.invert_yaxis()
    ax.set_xlabel(f"{comparison.b} − {comparison.a} (points; bars: 95% interval agreeing with the test)", labelpad=8)
    ax.set_title("Difference per benchmark")
    ax.grid(axis="x", alpha=0.3)
    return Plot("compare", "Difference per benchmark", _svg(fig, "compare"))
