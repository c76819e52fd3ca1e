"""Best-of-N metrics: the expectation over all N-subsets of each problem's candidate pool, never one random draw.

For a pool of ``n`` candidates and a subset size ``N`` (every N-subset equally likely):

- ``bon@N``: accuracy of the reward model's argmax, ties broken uniformly. Closed form (:func:`bon_at_n`).
- ``pass@N``: an oracle picks, the unbiased estimator ``1 - C(n-c, N) / C(n, N)`` (``prime_eval.metrics``).
- ``random@N``: a uniformly random candidate of the subset, which is a uniformly random candidate of the pool,
  so the pool's mean accuracy whatever N.
- ``maj@N``: majority vote over the verifier's canonical answers, exact (``prime_eval.metrics.maj_at_k``).
- ``weighted_maj@N``: each answer gets the summed vote weight of its candidates in the subset, the heaviest
  wins. No closed form: exact enumeration when ``C(n, N)`` is at most the draw budget, else a fixed-seed Monte
  Carlo estimate whose variance is carried up to a ``mc_stderr``.

A ``None`` answer never votes (and a subset without any answer scores 0). A problem whose pool is smaller than
N is left out of that N, and the count left out is reported, because a larger N cannot be formed from it.
Standard library only, like ``prime_eval.metrics``.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..metrics import correct_by_answer, maj_at_k, pass_at_k, stderr

METRICS = ("bon", "pass", "random", "maj", "weighted_maj")
DEFAULT_VOTE_WEIGHT = "sigmoid"
DEFAULT_DRAWS = 2000


def _sigmoid(x: float) -> float:
    # Two branches so that exp never overflows for large |x|.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


# Vote weight of a candidate as a function of its reward-model score. "sigmoid" is what ImplicitPRM's
# bon_eval sums per answer; "uniform" makes weighted_maj@N equal maj@N; "identity" uses the raw score and only
# makes sense for scores >= 0 (a negative total can still win when no answer does better).
VOTE_WEIGHTS: dict[str, Callable[[float], float]] = {
    "sigmoid": _sigmoid,
    "identity": float,
    "uniform": lambda _score: 1.0,
}


@dataclass(frozen=True)
class Scored:
    """One labelled, scored candidate: reward-model ``score``, verifier ``correct`` and canonical ``answer``."""

    score: float
    correct: bool
    answer: str | None = None


def _check_n(n: int, size: int, what: str) -> None:
    if not 1 <= n <= size:
        raise ValueError(f"{what} needs 1 <= N <= pool size, got N={n}, pool size {size}")


def bon_at_n(scores: Sequence[float], values: Sequence[float], n: int) -> float:
    """Expected value of the top-scored candidate of a uniform N-subset, score ties broken uniformly.

    Group the pool by distinct score level ``s``: ``a`` candidates score above it, ``e`` at it, ``b`` below.
    The subset's maximum is ``s`` exactly when it takes nothing above and not only things below:
    ``P = (C(n-a, N) - C(b, N)) / C(n, N)``. Given that, the candidates it took at ``s`` are a uniform subset
    of the ``e`` and the pick a uniform one of those, so the pick is uniform over the level: its expected
    value is the level's mean. ``bon@N = sum_s P_s * mean(values at s)``.
    """
    size = len(scores)
    if len(values) != size:
        raise ValueError(f"{size} scores but {len(values)} values")
    _check_n(n, size, "bon@N")
    levels: dict[float, list[float]] = defaultdict(list)
    for s, v in zip(scores, values):
        levels[s].append(float(v))
    total, above, terms = math.comb(size, n), 0, []
    for s in sorted(levels, reverse=True):
        at = levels[s]
        below = size - above - len(at)
        # int / int is correctly rounded in Python, however large the binomials.
        p = (math.comb(size - above, n) - math.comb(below, n)) / total
        terms.append(p * math.fsum(at) / len(at))
        above += len(at)
    return math.fsum(terms)


def random_at_n(values: Sequence[float], n: int) -> float:
    """Expected value of a uniformly random candidate of a uniform N-subset: the pool mean, for every N."""
    _check_n(n, len(values), "random@N")
    return math.fsum(float(v) for v in values) / len(values)


@dataclass(frozen=True)
class ProblemValue:
    """One problem's value of one metric; ``mc_var`` is the variance of a Monte Carlo estimate (0 if exact)."""

    value: float
    mc_var: float = 0.0
    exact: bool = True


def _vote(subset: Sequence[int], answers: Sequence[str | None], weights: Sequence[float], value_of) -> float:
    totals: dict[str, list[float]] = defaultdict(list)
    for i in subset:
        if answers[i] is not None:
            totals[answers[i]].append(weights[i])
    if not totals:
        return 0.0
    # fsum is correctly rounded, so equal multisets of weights tie exactly whatever their order.
    sums = {a: math.fsum(ws) for a, ws in totals.items()}
    best = max(sums.values())
    top = [a for a, s in sums.items() if s == best]
    return math.fsum(value_of[a] for a in top) / len(top)  # uniform tie-break, in expectation


def weighted_maj_at_n(
    answers: Sequence[str | None],
    weights: Sequence[float],
    value_by_answer: Mapping[str, float],
    n: int,
    *,
    draws: int = DEFAULT_DRAWS,
    seed: Any = 0,
) -> ProblemValue:
    """Expected value of a weighted majority vote over a uniform N-subset (see the module docstring).

    Exact when ``C(len(answers), n) <= draws`` (enumeration costs no more than sampling then); otherwise the
    mean over ``draws`` subsets drawn with ``random.Random(seed)``, with the variance of that mean.
    """
    size = len(answers)
    if len(weights) != size:
        raise ValueError(f"{size} answers but {len(weights)} weights")
    _check_n(n, size, "weighted_maj@N")
    if draws < 2:
        raise ValueError(f"draws must be at least 2, got {draws}")
    if math.comb(size, n) <= draws:
        outcomes = [_vote(s, answers, weights, value_by_answer) for s in itertools.combinations(range(size), n)]
        return ProblemValue(math.fsum(outcomes) / len(outcomes))
    rng = random.Random(seed)  # str seeds hash deterministically (not through PYTHONHASHSEED)
    outcomes = [_vote(rng.sample(range(size), n), answers, weights, value_by_answer) for _ in range(draws)]
    return ProblemValue(math.fsum(outcomes) / draws, statistics.variance(outcomes) / draws, exact=False)


def problem_metrics(
    pool: Sequence[Scored],
    ns: Sequence[int],
    *,
    vote_weight: str = DEFAULT_VOTE_WEIGHT,
    draws: int = DEFAULT_DRAWS,
    seed: Any = 0,
) -> dict[str, ProblemValue]:
    """Every metric of one pool at every N it can form: ``{"bon@4": ProblemValue, ...}``; larger N are absent.

    ``seed`` should name the problem (the bench passes ``"<seed>/<benchmark>/<problem_id>"``), so a problem's
    Monte Carlo draws do not depend on which other problems are in the file.
    """
    if vote_weight not in VOTE_WEIGHTS:
        raise ValueError(f"unknown vote weight {vote_weight!r}; choose from {', '.join(VOTE_WEIGHTS)}")
    weight = VOTE_WEIGHTS[vote_weight]
    size = len(pool)
    scores = [c.score for c in pool]
    values = [float(bool(c.correct)) for c in pool]
    answers = [c.answer for c in pool]
    by_answer = correct_by_answer(pool)
    weights = [weight(s) for s in scores]
    c = sum(1 for v in values if v)
    out: dict[str, ProblemValue] = {}
    for n in ns:
        if n > size:
            continue
        out[f"bon@{n}"] = ProblemValue(bon_at_n(scores, values, n))
        out[f"pass@{n}"] = ProblemValue(pass_at_k(size, c, n))
        out[f"random@{n}"] = ProblemValue(random_at_n(values, n))
        out[f"maj@{n}"] = ProblemValue(maj_at_k(answers, by_answer, n))
        out[f"weighted_maj@{n}"] = weighted_maj_at_n(answers, weights, by_answer, n, draws=draws, seed=f"{seed}/{n}")
    return out


@dataclass(frozen=True)
class MetricSummary:
    """Mean over problems, its standard error over problems, and for sampled metrics the Monte Carlo error."""

    mean: float
    stderr: float
    mc_stderr: float | None = None

    def to_dict(self) -> dict[str, float]:
        out = {"mean": self.mean, "stderr": self.stderr}
        if self.mc_stderr is not None:
            out["mc_stderr"] = self.mc_stderr
        return out


@dataclass(frozen=True)
class BoNSummary:
    """A benchmark's (or all problems') BoN metrics. ``excluded[N]``: problems whose pool is smaller than N."""

    num_problems: int
    num_candidates: int
    pool_min: int
    pool_max: int
    metrics: dict[str, MetricSummary]
    excluded: dict[int, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "num_problems": self.num_problems,
            "num_candidates": self.num_candidates,
            "pool_size": {"min": self.pool_min, "max": self.pool_max},
            "excluded": {str(n): k for n, k in self.excluded.items()},
            "metrics": {name: m.to_dict() for name, m in self.metrics.items()},
        }


def summarize(per_problem: Sequence[Mapping[str, ProblemValue]], pool_sizes: Sequence[int], ns: Sequence[int]):
    """Average each metric over the problems that have it (every problem weighs the same, whatever its pool).

    The Monte Carlo error of a mean of independent estimates is ``sqrt(sum var_p) / P`` (exact problems add 0).
    """
    if not per_problem or len(per_problem) != len(pool_sizes):
        raise ValueError("summarize needs one pool size per problem and at least one problem")
    metrics: dict[str, MetricSummary] = {}
    excluded: dict[int, int] = {}
    for n in ns:
        excluded[n] = sum(1 for size in pool_sizes if size < n)
        for name in METRICS:
            got = [p[f"{name}@{n}"] for p in per_problem if f"{name}@{n}" in p]
            if not got:
                continue
            mean = math.fsum(v.value for v in got) / len(got)
            mc = math.sqrt(math.fsum(v.mc_var for v in got)) / len(got)
            # Only weighted_maj is ever sampled; it always reports its Monte Carlo error (0.0 if all exact).
            mc_stderr = mc if name == "weighted_maj" else None
            metrics[f"{name}@{n}"] = MetricSummary(mean, stderr([v.value for v in got]), mc_stderr)
    return BoNSummary(len(per_problem), sum(pool_sizes), min(pool_sizes), max(pool_sizes), metrics, excluded)
