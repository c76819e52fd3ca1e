"""The report's significance tests on hand-made cases whose p-values are worked out by hand (comments show how),
plus an independent brute-force enumeration for the permutation test."""

from __future__ import annotations

import itertools
import math

import pytest

from prime_eval.report.stats import (
    average_stderr,
    mcnemar_exact_p,
    paired_permutation_p,
    paired_stderr,
    sign_test_p,
)


def test_mcnemar_exact_by_hand():
    # b=1, c=8: 9 discordant pairs, P(X <= 1) = (C(9,0) + C(9,1)) / 2^9 = 10/512, doubled
    assert mcnemar_exact_p(1, 8) == pytest.approx(0.0390625, abs=1e-15)
    assert mcnemar_exact_p(8, 1) == mcnemar_exact_p(1, 8)  # two-sided: symmetric in b and c
    # b=0, c=5: 2 * 1/32
    assert mcnemar_exact_p(0, 5) == pytest.approx(0.0625)
    # b=1, c=4: 2 * (1 + 5) / 32
    assert mcnemar_exact_p(1, 4) == pytest.approx(0.375)
    # b=3, c=3 and b=2, c=3: the smaller tail doubled passes 1, capped
    assert mcnemar_exact_p(3, 3) == 1.0
    assert mcnemar_exact_p(2, 3) == 1.0
    assert mcnemar_exact_p(0, 0) == 1.0  # no discordant pair: no evidence either way


def test_mcnemar_large_counts_match_normal_approximation():
    # b=40, c=70: exact and the continuity-corrected chi-square agree to a few percent at this size
    exact = mcnemar_exact_p(40, 70)
    chi2 = (abs(40 - 70) - 1) ** 2 / 110
    approx = math.erfc(math.sqrt(chi2 / 2))
    assert exact == pytest.approx(approx, rel=0.1)
    assert exact < 0.01


def test_sign_test_rejects_bad_counts():
    with pytest.raises(ValueError):
        sign_test_p(5, 4)
    with pytest.raises(ValueError):
        mcnemar_exact_p(-1, 2)


def test_permutation_by_hand():
    # three problems all +1: of the 8 sign patterns only +++ and --- reach |sum| 3
    r = paired_permutation_p([1, 1, 1])
    assert (r.p_value, r.exact) == (0.25, True)
    # [0.5, 0.25, -0.25], observed |sum| 0.5: sums over signs of (0.5, 0.25, 0.25) are
    # 1, 0.5, 0.5, 0, 0, -0.5, -0.5, -1: six of eight have |sum| >= 0.5
    assert paired_permutation_p([0.5, 0.25, -0.25]).p_value == pytest.approx(6 / 8)
    # zeros drop out: [1, 1, 0, 0] is the two-problem case, 2 of 4 patterns reach |sum| 2
    assert paired_permutation_p([1, 1, 0, 0]).p_value == pytest.approx(0.5)
    assert paired_permutation_p([0, 0]).p_value == 1.0
    assert paired_permutation_p([]).p_value == 1.0


def _brute_force(diffs: list[float]) -> float:
    observed = abs(sum(diffs))
    nonzero = [abs(d) for d in diffs if d]
    hits = sum(
        abs(sum(s * d for s, d in zip(signs, nonzero))) >= observed - 1e-9
        for signs in itertools.product((1, -1), repeat=len(nonzero))
    )
    return hits / 2 ** len(nonzero)


@pytest.mark.parametrize(
    "diffs",
    [
        [0.25, 0.5, -0.25, 0.75, 1.0, 0.0, -0.5, 0.25, 0.5, 0.25],
        [1 / 3, 2 / 3, -1 / 3, 1.0, 1 / 3, 0.0, 2 / 3],  # thirds: float noise must not break ties
        [0.1, 0.2, 0.3, -0.6, 0.1, 0.1, 0.2],  # 0.1 + 0.2 != 0.3 in floats
        [1, -1, 1, 1, 1, 1, 1, -1, 1, 1, 1, 1],
    ],
)
def test_permutation_exact_equals_brute_force(diffs):
    assert paired_permutation_p(diffs).p_value == pytest.approx(_brute_force(diffs), abs=1e-12)


def test_permutation_binary_differences_equal_the_sign_test():
    # differences of +-1 only: |sum| >= observed is exactly the two-sided binomial tail (McNemar with b=2, c=9)
    diffs = [1.0] * 9 + [-1.0] * 2 + [0.0] * 20
    assert paired_permutation_p(diffs).p_value == pytest.approx(mcnemar_exact_p(2, 9))


def test_permutation_falls_back_to_monte_carlo_and_says_so():
    # 14 distinct irrational-looking magnitudes: 2^14 distinct sums exceed a state limit of 1000
    diffs = [math.sqrt(i + 2) / 10 for i in range(14)]
    r = paired_permutation_p(diffs, exact_states_limit=1000, resamples=4000, seed=1)
    assert not r.exact and r.resamples == 4000
    # every difference positive: the observed sum is the maximum, so only the all-plus pattern reaches it
    # (1 in 2^14, about 0.25 hits in 4000 resamples) and the estimate counts the observed pattern once
    assert r.p_value <= 3 / 4001
    mixed = [d if i % 3 else -d for i, d in enumerate(diffs)]
    mc = paired_permutation_p(mixed, exact_states_limit=1000, resamples=4000, seed=1).p_value
    assert mc == pytest.approx(_brute_force(mixed), abs=0.03)  # binomial sd at 4000 resamples is < 0.008


def test_stderrs():
    # differences 0, 1, 0, 1: stdev = sqrt(1/3), / sqrt(4)
    assert paired_stderr([0, 1, 0, 1]) == pytest.approx(math.sqrt(1 / 3) / 2)
    assert paired_stderr([0.5]) == 0.0
    # mean of two independent scores with errors 3 and 4: sqrt(9 + 16) / 2
    assert average_stderr([3.0, 4.0]) == pytest.approx(2.5)
