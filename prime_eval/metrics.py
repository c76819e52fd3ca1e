"""Sampling metrics: avg@n, unbiased pass@k, maj@k, standard errors and the paper-table average.

Pure functions over hand-checkable inputs; standard library only (no numpy in prime's core).

Every metric is estimated per problem from *all* of that problem's n samples and then averaged over problems,
so repeats are never scored on the first sample only (the bug of lm-eval #3080), and problems may have different
n (a resumed run): each problem contributes one estimate, whatever its n. pass@k and maj@k are exact
expectations over uniformly random k-subsets of the n samples (drawn without replacement), not bootstrap
resamples with replacement, which bias best@N low against pass@k (verl #7240).

Success for pass@k and maj@k is ``correct`` (for code: every test passed); avg@n averages ``score``, which for
code may be the fraction of tests passed.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any


@dataclass(frozen=True)
class SampleResult:
    """One verified sample: ``score`` in [0, 1], ``correct``, and the canonical answer key (None: no answer).

    The verifier's ``Verdict`` has the same three attributes and can be passed wherever a SampleResult is.
    """

    score: float
    correct: bool
    answer: str | None = None


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``c`` correct out of ``n`` samples (Chen et al. 2021).

    ``1 - C(n-c, k) / C(n, k)`` computed as ``1 - prod_{i=n-c+1}^{n} (1 - k/i)``, which never forms the huge
    binomials (the same product as evalplus and LiveCodeBench). Exactly 1.0 when ``n - c < k``: every k-subset
    then holds a correct sample.
    """
    if not 1 <= k <= n:
        raise ValueError(f"pass@k needs 1 <= k <= n, got k={k}, n={n}")
    if not 0 <= c <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n, got c={c}, n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def avg_at_n(samples: Sequence[Any]) -> float:
    """Mean ``score`` over all samples of one problem (avg@n; for n=1 the plain accuracy)."""
    if not samples:
        raise ValueError("avg@n of a problem with no samples")
    return math.fsum(s.score for s in samples) / len(samples)


def maj_at_k(answers: Sequence[str | None], correct_by_answer: Mapping[str, float], k: int) -> float:
    """Expected accuracy of a majority vote over a uniformly random k-subset of one problem's ``n`` answers.

    The most frequent answer in the subset wins; ties are broken uniformly at random (counted in expectation,
    so a two-way tie between a right and a wrong answer scores 0.5). ``None`` (no answer) never votes, and a
    subset with no answers at all scores 0. ``correct_by_answer`` maps each answer key to its correctness in
    [0, 1] (a bool, or the fraction of that key's samples judged correct if they disagree). maj@n is the plain
    majority over all samples.

    Always exact, never sampled: writing ``m`` for the winner's count in the subset, the sum over correct
    answers ``a`` and counts ``t`` of ``P(a has t, every other answer <= t) * E[1 / (1 + #others at t)]`` is a
    small dynamic program. Answers with fewer than ``t`` samples cannot reach ``t``, so they and the ``None``
    samples are chosen freely (one binomial); only the at most ``n/t`` answers with ``>= t`` samples enter the
    DP, which tracks how many subset slots they use and how many tie at ``t``. Integer counts, one rounding.
    """
    n = len(answers)
    if not 1 <= k <= n:
        raise ValueError(f"maj@k needs 1 <= k <= n, got k={k}, n={n}")
    sizes = Counter(a for a in answers if a is not None)
    groups = [(size, Fraction(float(correct_by_answer[a]))) for a, size in sizes.items()]
    n_none = n - sum(sizes.values())
    total = Fraction(0)
    for i, (size_a, value_a) in enumerate(groups):
        if value_a == 0:  # wrong answers add nothing to the expected accuracy
            continue
        others = [s for j, (s, _) in enumerate(groups) if j != i]
        for t in range(1, min(size_a, k) + 1):
            free = n_none + sum(s for s in others if s < t)
            ways_by_ties = _ways_with_ties(sorted(s for s in others if s >= t), t, k - t, free)
            ties_share = sum((Fraction(w, j + 1) for j, w in enumerate(ways_by_ties)), Fraction(0))
            total += value_a * math.comb(size_a, t) * ties_share
    return float(total / math.comb(n, k))


def _ways_with_ties(capped: list[int], t: int, slots: int, free: int) -> list[int]:
    """Entry j: ways to fill ``slots`` from ``capped`` groups (each taking <= t, exactly j taking t) and ``free``."""
    # dp[j][s]: ways to take s samples from the groups seen so far, each <= t, j of them exactly t.
    dp = [[1] + [0] * slots]
    for size in capped:
        new = [[0] * (slots + 1) for _ in range(len(dp) + 1)]
        for j, row in enumerate(dp):
            for s, ways in enumerate(row):
                if ways:
                    for c in range(min(t, size, slots - s) + 1):
                        new[j + (c == t)][s + c] += ways * math.comb(size, c)
        dp = new
    return [sum(ways * math.comb(free, slots - s) for s, ways in enumerate(row)) for row in dp]


def correct_by_answer(samples: Iterable[Any]) -> dict[str, float]:
    """Answer key -> fraction of that key's samples judged correct (1.0 or 0.0 unless the verifier disagreed)."""
    seen: dict[str, list[bool]] = defaultdict(list)
    for s in samples:
        if s.answer is not None:
            seen[s.answer].append(bool(s.correct))
    return {a: sum(flags) / len(flags) for a, flags in seen.items()}


def stderr(values: Sequence[float]) -> float:
    """Standard error of the mean over problems: sample std (ddof=1) / sqrt(len); 0.0 for a single value."""
    if not values:
        raise ValueError("stderr of no values")
    return statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0


@dataclass(frozen=True)
class Estimate:
    """A benchmark-level metric: mean over problems, its standard error, and each problem's value."""

    mean: float
    stderr: float
    per_problem: tuple[float, ...] = field(repr=False)

    @classmethod
    def of(cls, values: Sequence[float]) -> Estimate:
        return cls(math.fsum(values) / len(values), stderr(values), tuple(values))


@dataclass(frozen=True)
class BenchmarkScores:
    """All sampling metrics of one benchmark. ``pass_at[k]`` / ``maj_at[k]`` for each k scored."""

    num_problems: int
    num_samples: int
    avg: Estimate
    pass_at: dict[int, Estimate]
    maj_at: dict[int, Estimate]

    def to_dict(self) -> dict[str, dict[str, float]]:
        """``{"avg": {"mean", "stderr"}, "pass@k": ..., "maj@k": ...}`` for results.json."""
        out = {"avg": self.avg}
        out.update({f"pass@{k}": e for k, e in self.pass_at.items()})
        out.update({f"maj@{k}": e for k, e in self.maj_at.items()})
        return {name: {"mean": e.mean, "stderr": e.stderr} for name, e in out.items()}


def default_ks(n: int) -> list[int]:
    """Powers of two below ``n``, plus ``n`` itself: 1, 2, 4, ..., n."""
    return sorted({2**i for i in range(n.bit_length()) if 2**i <= n} | {n})


def score_benchmark(per_problem: Sequence[Sequence[Any]], ks: Sequence[int] | None = None) -> BenchmarkScores:
    """avg@n, pass@k and maj@k (mean and stderr over problems) from each problem's list of SampleResults.

    Each metric is computed per problem from all its samples, then averaged with every problem weighted
    equally, also when problems have different n. ``ks`` defaults to :func:`default_ks` of the *smallest* n
    (k may not exceed any problem's n; an explicit k that does raises ValueError).
    """
    if not per_problem:
        raise ValueError("score_benchmark needs at least one problem")
    if any(len(samples) == 0 for samples in per_problem):
        raise ValueError("every problem needs at least one sample")
    min_n = min(len(samples) for samples in per_problem)
    ks = default_ks(min_n) if ks is None else sorted(set(ks))
    if ks and (ks[0] < 1 or ks[-1] > min_n):
        raise ValueError(f"every k must be in [1, {min_n}] (the smallest n over problems), got {ks}")
    avg, pass_vals, maj_vals = [], defaultdict(list), defaultdict(list)
    for samples in per_problem:
        n, c = len(samples), sum(bool(s.correct) for s in samples)
        answers, by_answer = [s.answer for s in samples], correct_by_answer(samples)
        avg.append(avg_at_n(samples))
        for k in ks:
            pass_vals[k].append(pass_at_k(n, c, k))
            maj_vals[k].append(maj_at_k(answers, by_answer, k))
    return BenchmarkScores(
        num_problems=len(per_problem),
        num_samples=sum(len(samples) for samples in per_problem),
        avg=Estimate.of(avg),
        pass_at={k: Estimate.of(pass_vals[k]) for k in ks},
        maj_at={k: Estimate.of(maj_vals[k]) for k in ks},
    )


def weighted_average(scores: Mapping[str, float], weights: Mapping[str, float] | None = None) -> float:
    """Average of per-benchmark scores, as in the paper's tables.

    PRIME averages benchmarks *unweighted*: each benchmark's score counts once, whatever its number of problems
    (AIME's 30 problems weigh as much as MATH500's 500). That is the default (``weights=None``). Pass
    ``weights`` (e.g. problem counts) for a pooled average; every benchmark in ``scores`` needs a weight >= 0.
    """
    if not scores:
        raise ValueError("weighted_average of no scores")
    if weights is None:
        return math.fsum(scores.values()) / len(scores)
    missing = sorted(set(scores) - set(weights))
    if missing:
        raise ValueError(f"no weight for {missing}")
    if any(weights[b] < 0 for b in scores) or math.fsum(weights[b] for b in scores) <= 0:
        raise ValueError("weights must be >= 0 and not all zero")
    return math.fsum(scores[b] * weights[b] for b in scores) / math.fsum(weights[b] for b in scores)
