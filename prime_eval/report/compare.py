"""Two runs side by side: per-benchmark differences on the problems both scored, a paired significance test, and
the problems whose verdict changed.

Pairing by problem id removes the between-problem variance that dominates these benchmarks (an easy problem is
easy for both runs), so a paired test sees differences an unpaired comparison of two error bars would miss.
Binary verdicts with one sample per problem get the exact McNemar test; several samples (or partial scores) get
a paired permutation test on per-problem mean scores.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass

from .load import load_verdicts
from .runs import Run, Verdict
from .stats import mcnemar_exact_p, paired_permutation_p, paired_stderr

MCNEMAR = "exact McNemar test on binary verdicts"
PERMUTATION = "paired permutation test (sign-flip) on per-problem mean scores"


@dataclass(frozen=True)
class Change:
    """A problem whose verdict (n = 1) or mean score (n > 1) differs; answers are the majority answer for n > 1."""

    problem_id: str
    old_answer: str | None
    new_answer: str | None
    old_score: float
    new_score: float


@dataclass(frozen=True)
class BenchComparison:
    benchmark: str
    a_mean: float  # on the shared problems when paired, else each run's own score
    b_mean: float
    delta: float  # b - a
    delta_stderr: float | None
    shared: int
    only_a: int
    only_b: int
    test: str
    p_value: float | None
    a_better: int  # problems where A scored higher (McNemar's b), and where B did (c)
    b_better: int
    changes: tuple[Change, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    benchmarks: tuple[BenchComparison, ...]
    only_in_a: tuple[str, ...]
    only_in_b: tuple[str, ...]

    def to_dict(self) -> dict:
        return asdict(self)


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


def _shown(v: Verdict) -> str | None:
    """What the model wrote (the extracted answer), else the canonical key (``46667/10000`` for ``4.6667``)."""
    return v.written if v.written is not None else v.answer


def _majority(samples: list[Verdict]) -> str | None:
    """The answer shown for a problem: the sample's for n = 1; for n > 1 the most common canonical answer, shown
    as the first sample with it wrote it."""
    if len(samples) == 1:
        return _shown(samples[0])
    counts = Counter(s.answer for s in samples if s.answer is not None)
    if not counts:
        return None
    answer, count = counts.most_common(1)[0]
    written = next(_shown(s) for s in samples if s.answer == answer)
    return f"{written} ({count}/{len(samples)})"


def _binary(va: dict[str, list[Verdict]], vb: dict[str, list[Verdict]], shared: list[str]) -> bool:
    """One sample per problem on both sides, each scored exactly 0 or 1 and agreeing with its verdict."""
    return all(
        len(v[p]) == 1 and v[p][0].score in (0.0, 1.0) and v[p][0].correct == (v[p][0].score == 1.0)
        for v in (va, vb)
        for p in shared
    )


def _unpaired(name: str, a: Run, b: Run, why: str) -> BenchComparison:
    sa, sb = a.benchmarks[name].score, b.benchmarks[name].score
    se = math.hypot(sa.stderr, sb.stderr) if sa.stderr is not None and sb.stderr is not None else None
    return BenchComparison(
        name, sa.mean, sb.mean, sb.mean - sa.mean, se, 0, 0, 0, f"none ({why}); unpaired difference only", None, 0, 0
    )


def compare_benchmark(name: str, a: Run, b: Run, va: dict | None, vb: dict | None) -> BenchComparison:
    if va is None or vb is None:
        missing = ", ".join(r.label for r, v in ((a, va), (b, vb)) if v is None)
        return _unpaired(name, a, b, f"no per-sample verdicts in {missing}")
    shared = [p for p in va if p in vb]  # A's order: the benchmark's own problem order
    if not shared:
        return _unpaired(name, a, b, "no problem ids in common")
    notes = []
    da, db = a.benchmarks[name].data_sha256, b.benchmarks[name].data_sha256
    if da and db and da != db:
        notes.append(f"the runs read different benchmark data (sha256 {da[:12]} vs {db[:12]}); matched by problem id")
    sa, sb = a.benchmarks[name].settings, b.benchmarks[name].settings
    if sa != sb:
        notes.append(f"settings differ: {a.label}: {sa.describe()}; {b.label}: {sb.describe()}")
    means_a = [_mean([s.score for s in va[p]]) for p in shared]
    means_b = [_mean([s.score for s in vb[p]]) for p in shared]
    diffs = [y - x for x, y in zip(means_a, means_b)]
    a_better = sum(d < 0 for d in diffs)
    b_better = sum(d > 0 for d in diffs)
    if _binary(va, vb, shared):
        test, p_value = MCNEMAR, mcnemar_exact_p(a_better, b_better)
    else:
        result = paired_permutation_p(diffs)
        test = PERMUTATION + (", exact" if result.exact else f", Monte Carlo with {result.resamples} resamples")
        p_value = result.p_value
    changes = tuple(
        Change(p, _majority(va[p]), _majority(vb[p]), x, y) for p, x, y in zip(shared, means_a, means_b) if x != y
    )
    return BenchComparison(
        name, _mean(means_a), _mean(means_b), _mean(diffs), paired_stderr(diffs), len(shared),
        len(va) - len(shared), len(vb) - len(shared), test, p_value, a_better, b_better, changes, tuple(notes),
    )  # fmt: skip


def compare_runs(a: Run, b: Run) -> Comparison:
    names = [n for n in a.benchmarks if n in b.benchmarks]
    benches = tuple(compare_benchmark(n, a, b, load_verdicts(a, n), load_verdicts(b, n)) for n in names)
    return Comparison(
        a.title, b.title, benches,
        tuple(n for n in a.benchmarks if n not in b.benchmarks), tuple(n for n in b.benchmarks if n not in a.benchmarks),
    )  # fmt: skip
