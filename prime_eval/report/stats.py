"""Paired significance tests for comparing two runs on the same problems. Pure functions, standard library only.

Both tests are exact where that is cheap: McNemar's test on binary verdicts is a binomial count, and the paired
permutation test on per-problem mean scores enumerates the distribution of the signed sum with a dynamic
program over exact fractions (mean scores of n samples are multiples of 1/n, so the number of distinct sums
stays small). Only when scores are arbitrary floats and that distribution would grow too large does the
permutation test fall back to a seeded Monte Carlo estimate, and it says so.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

# Per-problem mean scores come from verdicts in [0, 1] averaged over a few samples; a denominator bound this large
# keeps k/n exact for any realistic n while turning float noise (0.1 + 0.2) into the fraction it stands for.
_MAX_DENOMINATOR = 10**6
EXACT_STATES_LIMIT = 200_000
DEFAULT_RESAMPLES = 10_000


def sign_test_p(successes: int, trials: int) -> float:
    """Exact two-sided binomial test of ``successes`` out of ``trials`` against p = 1/2.

    Doubles the smaller tail (the distribution is symmetric), capped at 1; 1.0 when there are no trials.
    """
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return 1.0
    tail = min(successes, trials - successes)
    return min(1.0, 2 * sum(math.comb(trials, i) for i in range(tail + 1)) / 2**trials)


def mcnemar_exact_p(b: int, c: int) -> float:
    """Exact McNemar test: ``b`` problems only the first run got right, ``c`` only the second.

    Problems both runs got right or wrong say nothing about which is better, so only the b + c discordant pairs
    count; under "no difference" each is equally likely to go either way, which makes b a Binomial(b + c, 1/2).
    """
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got b={b}, c={c}")
    return sign_test_p(b, b + c)


def _binomial_tail_at_least(x: int, m: int, p: float) -> float:
    """P(X >= x) for X ~ Binomial(m, p), summed in log space (no underflow for large m)."""
    if x <= 0:
        return 1.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    logs = [math.lgamma(m + 1) - math.lgamma(i + 1) - math.lgamma(m - i + 1) + i * math.log(p)
            + (m - i) * math.log1p(-p) for i in range(x, m + 1)]  # fmt: skip
    top = max(logs)
    return math.exp(top) * math.fsum(math.exp(v - top) for v in logs)


def _solve(f, target: float) -> float:
    """The p in [0, 1] where the increasing function ``f`` reaches ``target`` (bisection to float precision)."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) < target else (lo, mid)
    return (lo + hi) / 2


def mcnemar_interval(b: int, c: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Interval for the paired difference (second run minus first, as a fraction of ``n`` problems) that agrees
    with ``mcnemar_exact_p``: the Clopper-Pearson interval of the share of discordant pairs won by the second run,
    mapped to the difference. It excludes 0 exactly when the two-sided exact p-value is below ``1 - level``, and
    lies inside the possible range [-(b + c) / n, (b + c) / n]."""
    m = b + c
    if n < 1 or b < 0 or c < 0 or m > n:
        raise ValueError(f"need b, c >= 0 and b + c <= n >= 1, got b={b}, c={c}, n={n}")
    if m == 0:
        return 0.0, 0.0
    alpha = (1 - level) / 2
    lo = 0.0 if c == 0 else _solve(lambda p: _binomial_tail_at_least(c, m, p), alpha)
    hi = 1.0 if c == m else 1 - _solve(lambda p: _binomial_tail_at_least(m - c, m, p), alpha)
    return (2 * lo - 1) * m / n, (2 * hi - 1) * m / n


@dataclass(frozen=True)
class PermutationResult:
    p_value: float
    exact: bool
    resamples: int  # 0 when exact


def paired_permutation_p(
    differences: Sequence[float],
    *,
    exact_states_limit: int = EXACT_STATES_LIMIT,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> PermutationResult:
    """Two-sided paired permutation (sign-flip) test of per-problem differences ``B - A``.

    Under "no difference" the two runs' labels on a problem are exchangeable, so each difference is as likely
    with either sign; the p-value is the share of the 2^N sign assignments whose |sum| is at least the observed
    |sum|. Problems with difference 0 contribute nothing either way.
    """
    diffs = [Fraction(d).limit_denominator(_MAX_DENOMINATOR) for d in differences]
    nonzero = [abs(d) for d in diffs if d != 0]
    if not nonzero:
        return PermutationResult(1.0, True, 0)
    # On a common denominator the sums are integers, which count much faster than Fractions.
    scale = math.lcm(*(d.denominator for d in nonzero))
    magnitudes = [int(d * scale) for d in nonzero]
    observed = abs(int(sum(diffs, Fraction(0)) * scale))
    counts: Counter[int] = Counter({0: 1})
    for m in magnitudes:
        step: Counter[int] = Counter()
        for total, ways in counts.items():
            step[total + m] += ways
            step[total - m] += ways
        counts = step
        if len(counts) > exact_states_limit:
            return _monte_carlo(magnitudes, observed, resamples, seed)
    extreme = sum(ways for total, ways in counts.items() if abs(total) >= observed)
    return PermutationResult(extreme / 2 ** len(magnitudes), True, 0)


def _monte_carlo(magnitudes: list[int], observed: int, resamples: int, seed: int) -> PermutationResult:
    rng = random.Random(seed)
    n, everything = len(magnitudes), sum(magnitudes)
    hits = 0
    for _ in range(resamples):
        # One random bit per problem, its sign in this resample; sum of signed = 2 * (sum of the plus ones) - all.
        bits = format(rng.getrandbits(n), f"0{n}b")
        total = 2 * sum(m for m, bit in zip(magnitudes, bits) if bit == "1") - everything
        hits += abs(total) >= observed
    # Counting the observed assignment itself keeps the estimate a valid p-value (never 0).
    return PermutationResult((hits + 1) / (resamples + 1), False, resamples)


def paired_stderr(differences: Sequence[float]) -> float:
    """Standard error of the mean paired difference (sample std, ddof=1); 0.0 for fewer than two problems."""
    return statistics.stdev(differences) / math.sqrt(len(differences)) if len(differences) > 1 else 0.0


def average_stderr(stderrs: Sequence[float]) -> float:
    """Standard error of an unweighted mean of independent benchmark scores: sqrt(sum se^2) / count."""
    if not stderrs:
        raise ValueError("average_stderr of no values")
    return math.sqrt(math.fsum(s * s for s in stderrs)) / len(stderrs)
