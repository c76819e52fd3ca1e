"""Best-of-N bench: metrics on synthetic pools with known answers, reward models, input errors, end to end."""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import sys

import pytest

from prime_eval.bon.bench import CandidatesError, read_candidates, run_bon
from prime_eval.bon.cli import add_bon_arguments, cmd_bon
from prime_eval.bon.metrics import (
    VOTE_WEIGHTS,
    Scored,
    bon_at_n,
    problem_metrics,
    random_at_n,
    summarize,
    weighted_maj_at_n,
)
from prime_eval.bon.reward_models import Candidate, FieldRM, OracleRM, RewardModel, ScoreError
from prime_eval.metrics import correct_by_answer, maj_at_k, pass_at_k
from prime_eval.scoring import InputError

sigmoid = VOTE_WEIGHTS["sigmoid"]


def brute_bon(scores, values, n):
    """bon@N by enumerating every subset, ties broken uniformly among the top-scored members."""
    total = []
    for subset in itertools.combinations(range(len(scores)), n):
        best = max(scores[i] for i in subset)
        top = [values[i] for i in subset if scores[i] == best]
        total.append(sum(top) / len(top))
    return sum(total) / len(total)


def random_pool(rng, size):
    scores = [rng.choice([0.0, 0.5, 1.0, 2.0]) for _ in range(size)]  # few levels: many ties
    values = [float(rng.random() < 0.4) for _ in range(size)]
    return scores, values


# --- bon@N, pass@N, random@N -----------------------------------------------------------------------------------


def test_bon_closed_form_matches_enumeration_with_ties():
    rng = random.Random(7)
    for _ in range(40):
        size = rng.randint(1, 9)
        scores, values = random_pool(rng, size)
        for n in range(1, size + 1):
            assert bon_at_n(scores, values, n) == pytest.approx(brute_bon(scores, values, n), abs=1e-12)


def test_oracle_rm_reaches_pass_at_n():
    values = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    for n in range(1, 8):
        assert bon_at_n(values, values, n) == pytest.approx(pass_at_k(7, 2, n), abs=1e-12)


def test_constant_rm_equals_random():
    values = [1.0, 0.0, 0.0, 1.0, 1.0]
    for n in range(1, 6):
        assert bon_at_n([3.0] * 5, values, n) == pytest.approx(0.6, abs=1e-12)
        assert random_at_n(values, n) == pytest.approx(0.6)


def test_anti_correlated_rm():
    values = [1.0, 1.0, 0.0, 0.0, 0.0]
    scores = [-v for v in values]
    # The argmax is wrong whenever the subset holds a wrong candidate: C(c, N) / C(n, N), 0 once N > c.
    assert bon_at_n(scores, values, 1) == pytest.approx(0.4)
    assert bon_at_n(scores, values, 2) == pytest.approx(1 / 10)
    assert bon_at_n(scores, values, 3) == 0.0
    assert bon_at_n(scores, values, 5) == 0.0


def test_bon_ties_by_hand():
    # Scores 1, 1, 0 with labels right, wrong, right. N=2: {0,1} tie -> 1/2, {0,2} -> 1, {1,2} -> 0.
    assert bon_at_n([1.0, 1.0, 0.0], [1.0, 0.0, 1.0], 2) == pytest.approx(0.5)
    assert bon_at_n([1.0, 1.0, 0.0], [1.0, 0.0, 1.0], 3) == pytest.approx(0.5)
    assert bon_at_n([1.0, 1.0, 0.0], [1.0, 0.0, 1.0], 1) == pytest.approx(2 / 3)


def test_bad_n_is_an_error():
    with pytest.raises(ValueError, match="N=4"):
        bon_at_n([1.0, 2.0], [1.0, 0.0], 4)
    with pytest.raises(ValueError):
        random_at_n([1.0], 0)


# --- maj@N and weighted_maj@N ----------------------------------------------------------------------------------


def test_maj_and_weighted_maj_by_hand():
    # a (right, score 0) twice and b (wrong, score 2) once: b's sigmoid weight 0.88 beats one a (0.5), not two.
    pool = [Scored(0.0, True, "a"), Scored(2.0, False, "b"), Scored(0.0, True, "a")]
    m = problem_metrics(pool, [1, 2, 3])
    assert m["maj@2"].value == pytest.approx(2 / 3)  # {a,a} -> 1, {a,b} twice -> tie 1/2
    assert m["weighted_maj@2"].value == pytest.approx(1 / 3)  # {a,a} -> 1, {a,b} -> b
    assert m["maj@3"].value == 1.0
    assert m["weighted_maj@3"].value == 1.0  # 0.5 + 0.5 > 0.88
    assert m["weighted_maj@1"].value == pytest.approx(2 / 3)
    assert all(v.exact for v in m.values())


def test_none_never_wins_a_vote():
    pool = [Scored(9.0, False, None), Scored(9.0, False, None), Scored(-9.0, True, "a"), Scored(0.0, False, "b")]
    m = problem_metrics(pool, [2])
    # Subsets: {N,N} -> 0 (no answer), {N,a} x2 -> 1, {N,b} x2 -> 0, {a,b}: b's weight 0.5 beats sigmoid(-9).
    assert m["maj@2"].value == pytest.approx((0 + 2 + 0 + 0.5) / 6)
    assert m["weighted_maj@2"].value == pytest.approx(2 / 6)


def test_weighted_maj_ties_and_uniform_weight_equals_maj():
    # Equal weights tie exactly, whatever the summation order.
    assert weighted_maj_at_n(["a", "b"], [0.3, 0.3], {"a": 1.0, "b": 0.0}, 2).value == 0.5
    rng = random.Random(3)
    for _ in range(20):
        size = rng.randint(1, 8)
        answers = [rng.choice(["x", "y", "z", None]) for _ in range(size)]
        value = {"x": 1.0, "y": 0.0, "z": 0.0}
        for n in range(1, size + 1):
            got = weighted_maj_at_n(answers, [1.0] * size, value, n).value
            assert got == pytest.approx(maj_at_k(answers, value, n), abs=1e-12)


def test_weighted_maj_monte_carlo_within_three_stderr_of_exact():
    rng = random.Random(11)
    for trial in range(5):
        answers = [rng.choice(["x", "y", "z", None]) for _ in range(14)]
        weights = [sigmoid(rng.gauss(0, 2)) for _ in range(14)]
        value = {"x": 1.0, "y": 0.0, "z": 0.0}
        exact = weighted_maj_at_n(answers, weights, value, 5, draws=math.comb(14, 5))
        mc = weighted_maj_at_n(answers, weights, value, 5, draws=400, seed=f"t{trial}")
        assert exact.exact and not mc.exact and mc.mc_var > 0
        assert abs(mc.value - exact.value) <= 3 * math.sqrt(mc.mc_var)
        # Fixed seed: the same draws every time.
        assert weighted_maj_at_n(answers, weights, value, 5, draws=400, seed=f"t{trial}") == mc


def test_problem_metrics_oracle_and_constant():
    pool = [Scored(float(c), c, a) for c, a in [(True, "1"), (False, "2"), (False, "3"), (True, "1")]]
    m = problem_metrics(pool, [1, 2, 4])
    for n in (1, 2, 4):
        assert m[f"bon@{n}"].value == pytest.approx(m[f"pass@{n}"].value)
        assert m[f"random@{n}"].value == 0.5
        assert m[f"maj@{n}"].value == pytest.approx(maj_at_k([c.answer for c in pool], correct_by_answer(pool), n))
    const = problem_metrics([Scored(1.0, s.correct, s.answer) for s in pool], [2])
    assert const["bon@2"].value == pytest.approx(const["random@2"].value)


def test_summarize_excludes_small_pools_and_counts_them():
    small = [Scored(1.0, True, "a"), Scored(0.0, False, "b")]
    big = [Scored(0.0, True, "a")] * 2 + [Scored(1.0, False, "b")] * 2
    per = [problem_metrics(small, [1, 2, 4]), problem_metrics(big, [1, 2, 4])]
    s = summarize(per, [2, 4], [1, 2, 4])
    assert s.excluded == {1: 0, 2: 0, 4: 1}
    assert s.metrics["bon@4"].mean == 0.0  # the big pool only: its argmax is always wrong
    assert s.metrics["bon@2"].mean == pytest.approx((1.0 + 1 / 6) / 2)
    assert s.metrics["weighted_maj@2"].mc_stderr == 0.0 and s.metrics["bon@2"].mc_stderr is None
    assert s.to_dict()["excluded"] == {"1": 0, "2": 0, "4": 1}


# --- reward models and input errors ----------------------------------------------------------------------------


def _cand(line, row, verdict=None):
    return Candidate(f"f.jsonl:{line}", "b", 1, "1", "x", row, verdict)


def test_field_rm_reports_bad_scores_with_lines():
    rm = FieldRM("s")
    assert isinstance(rm, RewardModel) and isinstance(OracleRM(), RewardModel)
    assert rm.score([_cand(1, {"s": 2}), _cand(2, {"s": -0.5})]) == [2.0, -0.5]
    bad = [_cand(1, {}), _cand(2, {"s": "0.3"}), _cand(3, {"s": True}), _cand(4, {"s": float("nan")})]
    with pytest.raises(ScoreError) as err:
        rm.score(bad)
    msg = str(err.value)
    assert all(f"f.jsonl:{i}" in msg for i in (1, 2, 3, 4)) and isinstance(err.value, InputError)
    assert rm.describe() == {"name": "field", "field": "s"}


def test_oracle_needs_labels():
    with pytest.raises(ValueError, match="f.jsonl:1"):
        OracleRM().score([_cand(1, {})])


def test_bad_candidate_lines_are_reported_with_line_numbers(tmp_path):
    path = tmp_path / "c.jsonl"
    lines = [
        {"problem_id": 1, "gold": "2", "response": "ok"},
        "{not json",
        {"problem_id": 2, "response": "no gold"},
        {"problem_id": 3, "gold": "1", "response": 5},
        {"problem_id": 1, "gold": "3", "response": "other gold"},
        {"problem_id": [1], "gold": "1", "response": "x"},
    ]
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    with pytest.raises(InputError, match=f"{path}:2: invalid JSON"):
        read_candidates(path)
    path.write_text("\n".join(json.dumps(x) for x in lines if not isinstance(x, str)) + "\n")
    with pytest.raises(CandidatesError) as err:
        read_candidates(path)
    msg = str(err.value)
    for lineno, what in [(2, "'gold'"), (3, "response must be a string"), (4, "differs"), (5, "problem_id")]:
        assert f"{path}:{lineno}: " in msg and what in msg
    assert f"{path}:1:" not in msg


# --- end to end on MATH-500 golds ------------------------------------------------------------------------------


def _boxed(x):
    return f"So the answer is $\\boxed{{{x}}}$."


@pytest.fixture(scope="module")
def candidates_file(tmp_path_factory):
    # The golds of MATH-500's test/algebra/2584, test/prealgebra/1622 and test/algebra/2036, written out so that
    # the test needs no shared files.
    p1, p2, p3 = "\\frac{14}{3}", "42", "3\\sqrt{13}"
    rows = [  # (benchmark, problem, gold, response, score)
        ("math500", "p1", p1, _boxed("\\frac{14}{3}"), 0.9),
        ("math500", "p1", p1, _boxed("5"), 0.1),
        ("math500", "p1", p1, _boxed("14/3"), 0.5),  # the same answer written differently: one vote key
        ("math500", "p1", p1, "I could not solve it.", 0.95),
        ("math500", "p2", p2, _boxed("42"), 0.2),
        ("math500", "p2", p2, _boxed("41"), 0.8),
        ("math500", "p2", p2, _boxed("41"), 0.7),
        ("math500", "p2", p2, _boxed("42"), 0.2),
        ("other", "p3", p3, _boxed("3\\sqrt{13}"), 1.0),
        ("other", "p3", p3, _boxed("13"), 0.0),
    ]
    path = tmp_path_factory.mktemp("bon") / "cands.jsonl"
    keys = ("benchmark", "problem_id", "gold", "response", "prm")
    path.write_text("".join(json.dumps(dict(zip(keys, r))) + "\n" for r in rows))
    return path


def test_run_bon_end_to_end(candidates_file, tmp_path):
    out = tmp_path / "out"
    result = run_bon(candidates_file, out, [1, 2, 4], FieldRM("prm"), workers=2, progress=False)
    assert json.loads((out / "bon.json").read_text()) == result
    m = result["benchmarks"]["math500"]["metrics"]
    # p1: bon@2 = 1/2 (see the levels 0.95 none, 0.9 right, 0.5 right, 0.1 wrong), p2: 1/6; @4 both pick wrong.
    assert m["bon@1"]["mean"] == pytest.approx(0.5) and m["random@4"]["mean"] == pytest.approx(0.5)
    assert m["bon@2"]["mean"] == pytest.approx((1 / 2 + 1 / 6) / 2)
    assert m["bon@4"]["mean"] == 0.0
    assert m["pass@2"]["mean"] == pytest.approx(5 / 6) and m["pass@4"]["mean"] == 1.0
    assert m["maj@2"]["mean"] == pytest.approx((2 / 3 + 1 / 2) / 2)  # p2: {42,42} 1, {41,41} 0, four 1/2 ties
    assert m["maj@4"]["mean"] == pytest.approx((1 + 0.5) / 2)  # p2 is a 2-2 tie
    assert m["weighted_maj@2"]["mean"] == pytest.approx((5 / 6 + 1 / 6) / 2)  # p2: 41 outweighs 42 in a pair
    assert m["weighted_maj@4"]["mean"] == pytest.approx(0.5)  # p1 right, p2: 41 outweighs 42
    other = result["benchmarks"]["other"]
    assert other["metrics"]["bon@2"]["mean"] == 1.0 and "bon@4" not in other["metrics"]
    assert other["excluded"] == {"1": 0, "2": 0, "4": 1}
    # overall is one population at every N: the problems that can form N = 4 (p3's pool of 2 is left out at
    # every N, so overall@2 and overall@4 compare the same problems)
    overall = result["overall"]
    assert overall["num_problems"] == 2 and overall["excluded"]["4"] == 0
    assert overall["population"]["problems"] == 2 and overall["population"]["left_out"] == 1
    assert overall["metrics"]["bon@2"]["mean"] == pytest.approx((1 / 2 + 1 / 6) / 2)
    assert result["reward_model"] == {"name": "field", "field": "prm"}
    assert result["verifier"]["name"] == "math" and result["settings"]["vote_weight"] == "sigmoid"

    rows = [json.loads(x) for x in (out / "candidates.jsonl").read_text().splitlines()]
    assert [r["label"] for r in rows] == [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    assert [r["score"] for r in rows] == [r["prm"] for r in rows]
    assert rows[0]["answer"] == rows[2]["answer"] is not None and rows[3]["answer"] is None
    assert rows[3]["status"] == "no_answer"


def test_run_bon_reports_missing_scores_with_lines(candidates_file, tmp_path):
    with pytest.raises(ScoreError, match=f"{candidates_file}:1: no score field 'nope' in 10 of 10 rows \\(fields: "):
        run_bon(candidates_file, tmp_path, [1], FieldRM("nope"), progress=False)
    assert not (tmp_path / "bon.json").exists()


def test_a_misnamed_scores_field_is_one_message_with_a_suggestion(candidates_file, tmp_path):
    with pytest.raises(ScoreError) as info:
        run_bon(candidates_file, tmp_path, [1], FieldRM("prm_score"), progress=False)
    message = str(info.value)
    assert "(did you mean 'prm'?)" in message and len(message.splitlines()) == 1


def test_cli_oracle_reaches_pass(candidates_file, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_bon_arguments(parser)
    args = parser.parse_args(
        ["--candidates", str(candidates_file), "--output", str(tmp_path), "--n", "1,2", "--oracle", "--quiet"]
    )
    assert cmd_bon(args) == 0
    result = json.loads((tmp_path / "bon.json").read_text())
    for summary in [*result["benchmarks"].values(), result["overall"]]:
        for n in (1, 2):
            assert summary["metrics"][f"bon@{n}"]["mean"] == pytest.approx(summary["metrics"][f"pass@{n}"]["mean"])
    assert "| math500 | 2 | 2 |" in capsys.readouterr().out


def test_cli_needs_exactly_one_reward_model(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_bon_arguments(parser)
    base = ["--candidates", "c.jsonl", "--output", str(tmp_path)]
    for extra in ([], ["--oracle", "--scores-field", "s"], ["--oracle", "--n", "1,x"]):
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(base + extra)
        assert exit_.value.code == 2
    assert "one of the arguments --scores-field --oracle --implicit-prm --orm is required" in capsys.readouterr().err


def test_run_bon_default_ns_and_n_beyond_every_pool(candidates_file, tmp_path):
    # Default: the powers of two every pool can form (the smallest pool has 2 candidates).
    assert run_bon(candidates_file, tmp_path, None, OracleRM(), progress=False)["ns"] == [1, 2]
    with pytest.raises(InputError, match="N=8 exceeds every problem's pool"):
        run_bon(candidates_file, tmp_path, [1, 8], OracleRM(), progress=False)


def test_plot_is_skipped_with_a_warning_without_matplotlib(monkeypatch, tmp_path, capsys):
    from prime_eval.bon.plot import plot_bon

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    assert plot_bon({}, tmp_path / "bon.png") is None
    assert "matplotlib is not installed" in capsys.readouterr().err
    assert not (tmp_path / "bon.png").exists()


def test_plot_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    from prime_eval.bon.plot import plot_bon

    summary = {
        "num_problems": 2,
        "metrics": {"bon@1": {"mean": 0.5, "stderr": 0.1}, "pass@2": {"mean": 1, "stderr": 0}},
    }
    result = {"ns": [1, 2], "benchmarks": {"a": summary, "b": summary}, "overall": summary, "reward_model": {}}
    path = plot_bon(result, tmp_path / "bon.png")
    assert path is not None and path.read_bytes()[:4] == b"\x89PNG"
