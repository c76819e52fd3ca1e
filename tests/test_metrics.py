"""prime_eval.metrics on hand-made inputs: hand-computed values, brute-force oracles, Monte Carlo cross-checks."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections import Counter
from fractions import Fraction

import pytest

from prime_eval.metrics import (
    BenchmarkScores,
    SampleResult,
    avg_at_n,
    correct_by_answer,
    default_ks,
    maj_at_k,
    pass_at_k,
    score_benchmark,
    stderr,
    weighted_average,
)


def _vote(answers, by_answer) -> Fraction:
    """Majority vote over one subset: ties split uniformly, None does not vote, no votes scores 0."""
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return Fraction(0)
    top = max(counts.values())
    winners = [a for a, c in counts.items() if c == top]
    return sum((Fraction(by_answer[a]) for a in winners), Fraction(0)) / len(winners)


def _brute_maj(answers, by_answer, k) -> float:
    subsets = list(itertools.combinations(answers, k))
    return float(sum((_vote(s, by_answer) for s in subsets), Fraction(0)) / len(subsets))


def _samples(spec: str) -> list[SampleResult]:
    """'C' correct answer "ok", 'x'/'y' wrong answers, '-' no answer."""
    answers = {"C": "ok", "x": "x", "y": "y", "-": None}
    return [SampleResult(float(ch == "C"), ch == "C", answers[ch]) for ch in spec]


# ---- pass@k ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, c, k, expected",
    [
        (4, 1, 1, 0.25),
        (4, 1, 2, 0.5),
        (4, 1, 4, 1.0),
        (5, 2, 2, 1 - math.comb(3, 2) / math.comb(5, 2)),  # 0.7
        (5, 0, 3, 0.0),
        (5, 5, 1, 1.0),
        (10, 3, 1, 0.3),
    ],
)
def test_pass_at_k_hand_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_exactly_one_when_every_subset_has_a_correct_sample():
    assert pass_at_k(10, 8, 3) == 1.0  # n - c = 2 < k
    assert pass_at_k(1000, 999, 2) == 1.0


@pytest.mark.parametrize("n, c, k", [(4, 1, 5), (4, 1, 0), (4, 1, -1), (4, 5, 1), (4, -1, 1)])
def test_pass_at_k_rejects_bad_arguments(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_pass_at_k_matches_enumerating_all_subsets():
    for n in range(1, 9):
        for c in range(n + 1):
            outcomes = [True] * c + [False] * (n - c)
            for k in range(1, n + 1):
                subsets = list(itertools.combinations(outcomes, k))
                expected = sum(any(s) for s in subsets) / len(subsets)
                assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12), (n, c, k)


def test_pass_at_k_stable_for_large_n():
    # C(1024, 512) overflows a float; the product form does not need it.
    expected = 1 - math.comb(1000, 512) / math.comb(1024, 512)
    assert pass_at_k(1024, 24, 512) == pytest.approx(expected, rel=1e-9)


# ---- maj@k -----------------------------------------------------------------------------------------------------


def test_maj_at_k_hand_cases():
    ok = {"ok": True, "x": False, "y": False}
    assert maj_at_k(["ok", "ok", "x"], ok, 3) == 1.0
    assert maj_at_k(["ok", "x", "x"], ok, 3) == 0.0  # the majority answer is wrong
    assert maj_at_k(["ok", "x"], ok, 2) == 0.5  # a tie splits in expectation
    assert maj_at_k(["ok", "x", "y"], ok, 3) == pytest.approx(1 / 3)  # three-way tie
    assert maj_at_k(["ok", None, None], ok, 3) == 1.0  # None does not vote, so one answer wins
    assert maj_at_k([None, None, None], ok, 3) == 0.0  # no answer at all: wrong
    assert maj_at_k([None, None, None], ok, 1) == 0.0
    # k=2 of [ok, x, None]: {ok,x} tie 0.5, {ok,None} 1, {x,None} 0 -> 1.5/3
    assert maj_at_k(["ok", "x", None], ok, 2) == pytest.approx(0.5)
    # k=1 is the fraction of samples whose answer is correct
    assert maj_at_k(["ok", "x", None, "ok"], ok, 1) == pytest.approx(0.5)


def test_maj_at_k_majority_wrong_answer_beats_scattered_correct():
    # 3 wrong "x" vs 2 correct: maj@5 is 0 even though pass@5 is 1.
    assert maj_at_k(["x", "x", "x", "ok", "ok"], {"ok": True, "x": False}, 5) == 0.0


def test_maj_at_k_fractional_correctness_per_key():
    # The verifier disagreed on samples with the same key: the key counts as 2/3 correct.
    samples = [SampleResult(1.0, True, "a"), SampleResult(1.0, True, "a"), SampleResult(0.0, False, "a")]
    by_answer = correct_by_answer(samples)
    assert by_answer == {"a": pytest.approx(2 / 3)}
    assert maj_at_k([s.answer for s in samples], by_answer, 3) == pytest.approx(2 / 3)


@pytest.mark.parametrize("k", [0, 4])
def test_maj_at_k_rejects_bad_k(k):
    with pytest.raises(ValueError):
        maj_at_k(["a", "b", "c"], {"a": True, "b": False, "c": False}, k)


def test_maj_at_k_matches_enumerating_all_subsets():
    rng = random.Random(0)
    pool = ["ok", "ok2", "x", "y", "z", None]
    for _ in range(150):
        n = rng.randint(1, 9)
        answers = [rng.choice(pool) for _ in range(n)]
        by_answer = {"ok": True, "ok2": True, "x": False, "y": False, "z": False}
        for k in range(1, n + 1):
            assert maj_at_k(answers, by_answer, k) == pytest.approx(_brute_maj(answers, by_answer, k), abs=1e-12)


def _monte_carlo(answers, by_answer, k, draws, seed):
    rng = random.Random(seed)
    values = [float(_vote(rng.sample(answers, k), by_answer)) for _ in range(draws)]
    return statistics.fmean(values), statistics.stdev(values) / math.sqrt(draws)


@pytest.mark.parametrize(
    "answers, k",
    [
        (["ok"] * 4 + ["x"] * 3 + ["y"] * 2 + [None] * 3, 6),  # small enough to enumerate too
        (["ok"] * 12 + ["x"] * 12 + ["y"] * 8 + [f"z{i}" for i in range(4)] + [None] * 4, 20),  # C(40,20) ~ 1e11
    ],
)
def test_maj_at_k_exact_agrees_with_monte_carlo(answers, k):
    by_answer = {a: a == "ok" for a in answers if a is not None}
    exact = maj_at_k(answers, by_answer, k)
    if math.comb(len(answers), k) <= 20_000:
        assert exact == pytest.approx(_brute_maj(answers, by_answer, k), abs=1e-12)
    mean, se = _monte_carlo(answers, by_answer, k, draws=20_000, seed=1)
    assert abs(exact - mean) <= 3 * se


def test_maj_at_n_is_plain_majority():
    by_answer = {"ok": True, "x": False}
    assert maj_at_k(["ok"] * 5 + ["x"] * 4 + [None] * 7, by_answer, 16) == 1.0
    assert maj_at_k(["ok"] * 4 + ["x"] * 4 + [None], by_answer, 9) == 0.5


# ---- avg@n, stderr, bootstrap, average -------------------------------------------------------------------------


def test_avg_at_n_uses_fractional_scores():
    samples = [SampleResult(0.5, False), SampleResult(1.0, True), SampleResult(0.0, False), SampleResult(0.25, False)]
    assert avg_at_n(samples) == pytest.approx(0.4375)
    with pytest.raises(ValueError):
        avg_at_n([])


def test_stderr_hand_case():
    # mean 0.5, sample variance ((.25)+(.25)+(.25)+(.25))/3 = 1/3, stderr sqrt(1/3)/2
    assert stderr([0.0, 1.0, 0.0, 1.0]) == pytest.approx(math.sqrt(1 / 3) / 2)
    assert stderr([0.7]) == 0.0
    with pytest.raises(ValueError):
        stderr([])


def test_weighted_average_default_is_unweighted():
    scores = {"aime24": 0.2, "math500": 0.8}
    assert weighted_average(scores) == pytest.approx(0.5)  # each benchmark counts once, like the paper
    assert weighted_average(scores, {"aime24": 30, "math500": 500}) == pytest.approx((6 + 400) / 530)
    with pytest.raises(ValueError):
        weighted_average(scores, {"aime24": 1.0})
    with pytest.raises(ValueError):
        weighted_average(scores, {"aime24": 0.0, "math500": 0.0})
    with pytest.raises(ValueError):
        weighted_average({})


# ---- score_benchmark -------------------------------------------------------------------------------------------


def test_default_ks():
    assert default_ks(1) == [1]
    assert default_ks(4) == [1, 2, 4]
    assert default_ks(6) == [1, 2, 4, 6]
    assert default_ks(16) == [1, 2, 4, 8, 16]


def test_score_benchmark_hand_case():
    # Problem 1: 1 of 4 correct; problem 2: 3 of 4 correct with one wrong answer and no-answer.
    scores = score_benchmark([_samples("Cxxy"), _samples("CCx-")], ks=[1, 2, 4])
    assert isinstance(scores, BenchmarkScores)
    assert (scores.num_problems, scores.num_samples) == (2, 8)
    assert scores.avg.mean == pytest.approx((0.25 + 0.5) / 2)
    assert scores.avg.stderr == pytest.approx(statistics.stdev([0.25, 0.5]) / math.sqrt(2))
    assert scores.pass_at[1].mean == pytest.approx((0.25 + 0.5) / 2)
    assert scores.pass_at[2].mean == pytest.approx((0.5 + (1 - 1 / 6)) / 2)
    assert scores.pass_at[4].mean == 1.0
    assert scores.maj_at[4].mean == pytest.approx((0.0 + 1.0) / 2)
    assert scores.avg.per_problem == (0.25, 0.5)
    d = scores.to_dict()
    assert set(d) == {"avg", "pass@1", "pass@2", "pass@4", "maj@1", "maj@2", "maj@4"}
    assert d["avg"] == {"mean": scores.avg.mean, "stderr": scores.avg.stderr}


def test_repeats_are_not_scored_on_the_first_sample_only():
    # lm-eval #3080: with repeats the first sample alone was scored. Here every first sample is correct and the
    # other three are not, so first-sample accuracy would be 1.0; avg@4 must be 0.25.
    problems = [_samples("Cxxx"), _samples("Cxy-"), _samples("C---")]
    scores = score_benchmark(problems)
    first_sample_accuracy = statistics.fmean(p[0].score for p in problems)
    assert first_sample_accuracy == 1.0
    assert scores.avg.mean == pytest.approx(0.25)
    assert scores.pass_at[1].mean == pytest.approx(0.25)
    assert scores.maj_at[4].mean == pytest.approx((0 + 1 / 3 + 1) / 3)


def test_pass_at_n_is_not_biased_low_like_resampling_with_replacement():
    # verl #7240: best-of-N over draws *with* replacement gives 1 - (3/4)^4 ~ 0.68 here; pass@4 over the 4
    # samples without replacement is exactly 1.
    scores = score_benchmark([_samples("Cxxx")])
    assert scores.pass_at[4].mean == 1.0
    assert scores.pass_at[4].stderr == 0.0  # one problem


def test_code_scores_pass_at_k_uses_correct_avg_uses_score():
    problem = [SampleResult(0.9, False, "p1"), SampleResult(1.0, True, "p2"), SampleResult(0.5, False, "p3")]
    scores = score_benchmark([problem], ks=[1, 3])
    assert scores.avg.mean == pytest.approx(0.8)
    assert scores.pass_at[1].mean == pytest.approx(1 / 3)
    assert scores.pass_at[3].mean == 1.0
    assert scores.maj_at[3].mean == pytest.approx(1 / 3)  # three-way tie of distinct programs


def test_variable_n_across_problems_weights_each_problem_once():
    # A resumed run: n=2 and n=4. Estimates are per problem, then averaged with equal weight.
    short, long = _samples("Cx"), _samples("CCCx")
    scores = score_benchmark([short, long])
    assert sorted(scores.pass_at) == [1, 2]  # default ks stop at the smallest n
    assert scores.num_samples == 6
    assert scores.avg.mean == pytest.approx((0.5 + 0.75) / 2)  # not the pooled 4/6
    assert scores.pass_at[2].mean == pytest.approx((1.0 + 1.0) / 2)
    assert scores.maj_at[2].mean == pytest.approx((0.5 + maj_at_k(["ok", "ok", "ok", "x"], {"ok": 1, "x": 0}, 2)) / 2)
    with pytest.raises(ValueError):
        score_benchmark([short, long], ks=[4])


def test_score_benchmark_rejects_empty_input():
    with pytest.raises(ValueError):
        score_benchmark([])
    with pytest.raises(ValueError):
        score_benchmark([_samples("C"), []])
    with pytest.raises(ValueError):
        score_benchmark([_samples("CC")], ks=[0])
