"""Step-level (ProcessBench-style) evaluation: predicted first errors, metrics worked out by hand, threshold
calibration, input errors, and the CLI end to end with the real implicit PRM on the tiny model."""

from __future__ import annotations

import json
import random
from fractions import Fraction

import pytest

from prime_eval.rewards.step_eval import (
    StepSample,
    calibrate_threshold,
    candidate_thresholds,
    evaluate,
    first_error,
    read_samples,
    run_step_eval,
    step_metrics,
)
from prime_eval.scoring import InputError


class FakePRM:
    """Step scores looked up by the step text: a step written "s=0.3 ..." scores 0.3."""

    def __init__(self):
        self.calls = 0

    def step_rewards(self, questions, step_lists):
        self.calls += 1
        assert len(questions) == len(step_lists)
        return [[float(step.split()[0][2:]) for step in steps] for steps in step_lists]

    def describe(self):
        return {"name": "fake"}


def _row(id_, scores, label, **extra):
    return {"id": id_, "problem": f"problem {id_}", "steps": [f"s={s} step" for s in scores], "label": label, **extra}


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_first_error_is_the_first_step_strictly_below_the_threshold():
    assert first_error([0.9, 0.2, 0.1], 0.5) == 1
    assert first_error([0.9, 0.2, 0.1], 0.95) == 0
    assert first_error([0.9, 0.2, 0.1], 0.1) == -1  # a score equal to the threshold passes
    assert first_error([0.5, 0.5], 0.5) == -1
    assert first_error([0.5, 0.4999], 0.5) == 1


def test_step_metrics_by_hand():
    # erroneous: #0 hit (1 == 1), #1 miss (0 != 1), #3 miss (label 0, nothing flagged) -> 1/3
    # correct:   #2 hit, #4 miss (flagged step 2) -> 1/2;  F1 = 2 * 1/3 * 1/2 / (1/3 + 1/2) = 2/5
    m = step_metrics([1, 0, -1, -1, 2], [1, 1, -1, 0, -1])
    assert (m.num_samples, m.num_erroneous, m.num_correct, m.erroneous_hits, m.correct_hits) == (5, 3, 2, 1, 1)
    assert m.error_acc == pytest.approx(1 / 3) and m.correct_acc == 0.5 and m.f1 == pytest.approx(0.4)
    # A label at step 0 is hit only by flagging step 0.
    assert step_metrics([0, -1], [0, 0]).error_acc == 0.5
    # All-correct subset: no error accuracy, so no F1; all-wrong predictions: F1 0, not a division by zero.
    allc = step_metrics([-1, 0], [-1, -1])
    assert (allc.error_acc, allc.correct_acc, allc.f1) == (None, 0.5, None)
    assert step_metrics([1, 0], [0, -1]).f1 == 0.0


def test_evaluate_subsets_overall_and_mean_f1_by_hand():
    raw = [  # (subset, scores, label); threshold 0.5
        ("a", [0.9, 0.2], 1),  # predicted 1: hit
        ("a", [0.3, 0.9], 0),  # predicted 0 (label at step 0): hit
        ("a", [0.9, 0.5], -1),  # 0.5 is not below 0.5: predicted -1, hit
        ("a", [0.9, 0.4], -1),  # predicted 1: miss
        ("b", [0.6, 0.7], -1),  # all-correct subset: hit
    ]
    samples = [StepSample(f"x:{i}", sub, i, "p", ("s",) * len(sc), y) for i, (sub, sc, y) in enumerate(raw)]
    res = evaluate(samples, [sc for _, sc, _ in raw], 0.5)
    assert res["predictions"] == [1, 0, -1, 1, -1]
    a, b = res["subsets"]["a"], res["subsets"]["b"]
    assert (a["error_acc"], a["correct_acc"]) == (1.0, 0.5) and a["f1"] == pytest.approx(2 / 3)
    assert (b["error_acc"], b["correct_acc"], b["f1"]) == (None, 1.0, None)
    o = res["overall"]  # pooled: erroneous 2/2, correct 2/3 -> F1 = 2 * 1 * 2/3 / (5/3) = 4/5
    assert (o["num_samples"], o["error_acc"]) == (5, 1.0) and o["correct_acc"] == pytest.approx(2 / 3)
    assert o["f1"] == pytest.approx(0.8)
    assert res["mean_f1"] == pytest.approx(2 / 3)  # only subset a has an F1


def test_calibration_picks_the_f1_best_midpoint():
    scores = [[0.9, 0.8, 0.3], [0.9, 0.4], [0.7, 0.6], [0.5, 0.9]]
    labels = [2, 1, -1, -1]
    assert candidate_thresholds(scores) == pytest.approx([-0.7, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 1.9])
    cal = calibrate_threshold(scores, labels)
    # At 0.45 all four are right; at 0.35 the second misses, at 0.55 the fourth does (F1 2/3 each).
    assert cal.threshold == pytest.approx(0.45) and cal.f1 == 1.0 and cal.num_tied == 1
    assert [first_error(s, cal.threshold) for s in scores] == labels


def test_calibration_ties_go_to_the_lowest_threshold():
    # The score 0.5 comes after the first error of its sample, so 0.4 and 0.6 both predict everything right.
    scores, labels = [[0.2, 0.5], [0.8, 0.3], [0.7]], [0, 1, -1]
    cal = calibrate_threshold(scores, labels)
    assert cal.threshold == pytest.approx(0.4) and cal.f1 == 1.0 and cal.num_tied == 2


def test_calibration_sweep_matches_brute_force():
    rng = random.Random(0)
    for _ in range(30):
        scores, labels = [], []
        for _ in range(rng.randint(2, 12)):
            n = rng.randint(1, 5)
            scores.append([rng.choice([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]) for _ in range(n)])
            labels.append(rng.randint(-1, n - 1))
        labels[0], labels[1] = -1, 0  # both kinds present
        best = None
        for t in candidate_thresholds(scores):
            m = step_metrics([first_error(s, t) for s in scores], labels)
            a, b = Fraction(m.erroneous_hits, m.num_erroneous), Fraction(m.correct_hits, m.num_correct)
            f1 = 0 if a + b == 0 else 2 * a * b / (a + b)
            if best is None or f1 > best[0]:
                best = (f1, t)
        cal = calibrate_threshold(scores, labels)
        assert (Fraction(cal.f1).limit_denominator(10**6), cal.threshold) == (best[0], best[1])


def test_calibration_needs_both_kinds():
    with pytest.raises(ValueError, match="both erroneous and correct"):
        calibrate_threshold([[0.1], [0.2]], [-1, -1])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"id": 1, "problem": "p", "steps": ["a"]}, "missing or null field 'label'"),
        ({"id": 1, "problem": "p", "steps": ["a", "b"], "label": 2}, r"label must be -1 .* in 0\.\.1, got 2"),
        ({"id": 1, "problem": "p", "steps": ["a"], "label": -2}, "label must be -1"),
        ({"id": 1, "problem": "p", "steps": ["a"], "label": True}, "label must be -1"),
        ({"id": 1, "problem": "p", "steps": [], "label": -1}, "steps must be a non-empty list"),
        ({"id": 1, "problem": "p", "steps": "a\n\nb", "label": -1}, "steps must be a non-empty list"),
        ({"id": 1, "problem": "p", "steps": ["a", 3], "label": -1}, "step 1 must be a string"),
        ({"id": [1], "problem": "p", "steps": ["a"], "label": -1}, "id must be a string or an integer"),
    ],
)
def test_bad_rows_are_reported_with_their_line(tmp_path, row, message):
    path = _write(tmp_path / "gsm8k.jsonl", [_row("ok", [0.5], -1), row])
    with pytest.raises(InputError, match=message) as info:
        read_samples([path])
    assert f"{path}:2:" in str(info.value)


def test_subset_names_and_duplicates(tmp_path):
    f1 = _write(tmp_path / "gsm8k.jsonl", [_row(1, [0.5], -1), _row(2, [0.5], -1, subset="named")])
    f2 = _write(tmp_path / "math.jsonl", [_row(1, [0.5], -1)])
    assert [s.subset for s in read_samples([f1, f2])] == ["gsm8k", "named", "math"]
    with pytest.raises(InputError, match="duplicate id 1 in subset 'all'"):
        read_samples([f1, f2], subset="all")
    with pytest.raises(InputError, match="duplicate id"):
        read_samples([f1, f1])


def test_run_with_threshold_and_with_calibration(tmp_path, capsys):
    data = _write(
        tmp_path / "math.jsonl",
        [_row(1, [0.9, 0.2], 1), _row(2, [0.3, 0.9], 0), _row(3, [0.9, 0.5], -1), _row(4, [0.9, 0.46], -1)],
    )
    cal = _write(
        tmp_path / "cal.jsonl",
        [_row(1, [0.9, 0.8, 0.3], 2), _row(2, [0.9, 0.4], 1), _row(3, [0.7, 0.6], -1), _row(4, [0.5, 0.9], -1)],
    )
    prm = FakePRM()
    res = run_step_eval([data], prm, tmp_path / "given", threshold=0.5, chunk_size=3)
    assert prm.calls == 2  # 4 samples, 3 per call
    assert res["threshold"] == {"value": 0.5, "rule": "first step with score < threshold", "source": "given"}
    assert res["prm"] == {"name": "fake"} and res["subsets"]["math"]["f1"] == pytest.approx(2 / 3)
    preds = [json.loads(line) for line in (tmp_path / "given" / "predictions.jsonl").read_text().splitlines()]
    assert [p["predicted"] for p in preds] == [1, 0, -1, 1] and preds[0]["step_scores"] == [0.9, 0.2]
    assert json.loads((tmp_path / "given" / "step_eval.json").read_text()) == res

    res = run_step_eval([data], FakePRM(), tmp_path / "cal", calibration=cal)
    t = res["threshold"]
    assert t["source"] == "calibration" and t["value"] == pytest.approx(0.45) and t["f1"] == 1.0
    # At 0.45 the evaluated split's fourth sample is no longer flagged: everything is right.
    assert res["subsets"]["math"]["f1"] == 1.0
    assert "warning" not in capsys.readouterr().err

    run_step_eval([data], FakePRM(), tmp_path / "same", calibration=data)
    assert "also evaluated" in capsys.readouterr().err


def test_a_prm_returning_the_wrong_number_of_scores_is_caught(tmp_path):
    class Short(FakePRM):
        def step_rewards(self, questions, step_lists):
            return [s[:-1] for s in super().step_rewards(questions, step_lists)]

    data = _write(tmp_path / "d.jsonl", [_row(1, [0.9, 0.2], 1)])
    with pytest.raises(ValueError, match="returned 1 scores for 2 steps"):
        run_step_eval([data], Short(), tmp_path / "out", threshold=0.5)


def test_cli_bad_input_fails_before_loading_a_model(tmp_path, capsys):
    from prime_eval.cli import main

    bad = _write(tmp_path / "d.jsonl", [_row(1, [0.9, 0.2], 5)])
    argv = ["step-eval", "--data", str(bad), "--implicit-prm", str(tmp_path / "no-model"), "--no-ref"]
    assert main([*argv, "--threshold", "0", "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "prime-eval step-eval: error:" in err and f"{bad}:1: label must be -1" in err
    good = _write(tmp_path / "good.jsonl", [_row(1, [0.9, 0.2], 1)])
    argv[2] = str(good)
    assert main([*argv, "--calibration", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: a threshold or a calibration file is required
        main([*argv, "--output", str(tmp_path / "o")])


def test_cli_end_to_end_with_the_implicit_prm(tiny_model, tmp_path, capsys):
    """``prime-eval step-eval`` on the tiny model (w/o ref, so scores are not all 0): the files agree with the
    PRM's own step rewards, the calibration rule and the metrics recomputed here."""
    from prime_eval.cli import main
    from prime_eval.rewards.implicit_prm import ImplicitPRM
    from tests.tiny_model import one_torch_thread

    def rows(prefix, n):
        out = []
        for i in range(n):
            steps = [f"Let $x = {i}$.", f"Then $2x + 3 = {2 * i + 3}$.", "The answer is \\boxed{4}."]
            out.append(
                {"id": f"{prefix}{i}", "problem": f"Solve {i}.", "steps": steps[: 1 + i % 3], "label": i % 3 - 1}
            )
        return out

    data = _write(tmp_path / "math.jsonl", rows("m", 6))
    cal = _write(tmp_path / "dev.jsonl", rows("d", 9))
    out = tmp_path / "out"
    argv = ["step-eval", "--data", str(data), "--implicit-prm", str(tiny_model), "--no-ref", "--calibration",
            str(cal), "--step-reward", "single", "--device", "cpu", "--quiet", "--output", str(out)]  # fmt: skip
    with one_torch_thread():
        assert main(argv) == 0
        prm = ImplicitPRM(str(tiny_model), step_reward="single", device="cpu", progress=False)
        samples, cal_samples = read_samples([data]), read_samples([cal])
        scores = prm.step_rewards([s.problem for s in samples], [list(s.steps) for s in samples])
        cal_scores = prm.step_rewards([s.problem for s in cal_samples], [list(s.steps) for s in cal_samples])
    printed = capsys.readouterr().out
    assert "| math | 6 | 4 | 2 |" in printed and f"wrote {out / 'step_eval.json'}" in printed

    result = json.loads((out / "step_eval.json").read_text())
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    for p, direct in zip(preds, scores, strict=True):
        assert p["step_scores"] == pytest.approx(direct, abs=1e-6)
    t = calibrate_threshold(cal_scores, [s.label for s in cal_samples]).threshold
    assert result["threshold"]["value"] == pytest.approx(t) and result["threshold"]["source"] == "calibration"
    expected = evaluate(samples, [p["step_scores"] for p in preds], result["threshold"]["value"])
    assert result["subsets"] == expected["subsets"] and [p["predicted"] for p in preds] == expected["predictions"]
    assert result["prm"]["model"] == str(tiny_model) and result["prm"]["variant"] == "w/o ref"
    assert result["prm"]["step_reward"] == "single"


def test_blank_steps_are_dropped_and_the_label_follows_its_step(tmp_path):
    rows = [
        {"id": 1, "problem": "p", "steps": ["a", "  ", "b", "c"], "label": 2},  # the error is step "b"
        {"id": 2, "problem": "p", "steps": ["a", "", "b"], "label": 1},  # the labelled step is blank: left out
        {"id": 3, "problem": "p", "steps": ["a", "b"], "label": -1, "source": "gsm8k"},
    ]
    skipped: list[str] = []
    samples = read_samples([_write(tmp_path / "pb.jsonl", rows)], skipped=skipped)
    assert [(s.id, s.steps, s.label) for s in samples] == [(1, ("a", "b", "c"), 1), (3, ("a", "b"), -1)]
    assert [s.subset for s in samples] == ["pb", "gsm8k"]  # a source field names the subset, no renaming needed
    assert len(skipped) == 1 and "pb.jsonl:2: the labelled first error, step 1, is blank" in skipped[0]


def test_step_scores_from_the_file_through_the_cli(tmp_path, capsys):
    """Any scorer's output, as a list of step scores per row, is evaluated without Python (blank steps dropped
    with their scores)."""
    from prime_eval.cli import main

    rows = [
        {**_row(1, [0.9, 0.1], 1), "scores": [0.9, 0.1], "subset": "a"},
        {**_row(2, [0.9, 0.8], -1), "scores": [0.9, 0.8], "subset": "a"},
        {"id": 3, "problem": "p", "steps": ["x", " ", "y"], "label": 2, "scores": [0.9, 0.5, 0.2], "subset": "b"},
    ]
    data = _write(tmp_path / "d.jsonl", rows)
    argv = ["step-eval", "--data", str(data), "--step-scores-field", "scores", "--threshold", "0.5"]
    assert main([*argv, "--output", str(tmp_path / "o")]) == 0
    result = json.loads((tmp_path / "o" / "step_eval.json").read_text())
    assert result["prm"] == {"name": "field", "field": "scores"}
    assert result["subsets"]["a"]["f1"] == 1.0 and result["subsets"]["b"]["error_acc"] == 1.0
    assert main([*argv, "--beta", "0.1", "--output", str(tmp_path / "o2")]) == 2
    assert "--beta: only with --implicit-prm" in capsys.readouterr().err
