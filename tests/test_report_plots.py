"""The report's plots and order (issue 14, item 11): intervals that agree with the test and stay in range, zero
scores that show, readable axes, the user's runs first."""

from __future__ import annotations

import pytest

from prime_eval.report.compare import MCNEMAR, PERMUTATION, BenchComparison
from prime_eval.report.stats import mcnemar_exact_p, mcnemar_interval
from tests.test_report import _report


@pytest.mark.parametrize("n", [5, 20, 200])
def test_mcnemar_interval_excludes_zero_exactly_when_the_test_rejects(n):
    for b in range(0, min(n, 14)):
        for c in range(0, min(n, 14) - b):
            lo, hi = mcnemar_interval(b, c, n)
            assert -(b + c) / n - 1e-12 <= lo <= (c - b) / n <= hi <= (b + c) / n + 1e-12
            assert (lo > 0 or hi < 0) == (mcnemar_exact_p(b, c) < 0.05), (b, c, n)


def test_the_issue_example_includes_zero_and_stays_under_100_points():
    lo, hi = mcnemar_interval(0, 3, 5)  # 3 of 5 problems flipped to right: p = 0.25
    assert mcnemar_exact_p(0, 3) == 0.25 and lo < 0 < hi <= 0.6


def _bench(test: str, delta: float, se: float, a: int = 0, b: int = 0, shared: int = 5) -> BenchComparison:
    return BenchComparison("x", 0.0, delta, delta, se, shared, 0, 0, test, 0.25, a, b)


def test_difference_interval_uses_the_exact_one_for_mcnemar_and_clips_the_normal_one():
    pytest.importorskip("matplotlib")
    from prime_eval.report.plots import difference_interval

    lo, hi = difference_interval(_bench(MCNEMAR, 0.6, 0.245, a=0, b=3))
    assert lo < 0 < hi <= 60
    assert difference_interval(_bench(PERMUTATION, 0.9, 0.2)) == (pytest.approx(90 - 39.2), 100.0)


def test_flat_accuracy_axes_span_ten_points_inside_0_to_100():
    plt = pytest.importorskip("matplotlib.pyplot")
    from prime_eval.report.plots import _percent_axis

    for values, expected in (([0, 0, 0], (0, 10)), ([100, 100], (90, 100)), ([40, 40.01], (35.005, 45.005))):
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3][: len(values)], values)
        _percent_axis(ax)
        assert ax.get_ylim() == pytest.approx(expected)
        plt.close(fig)


def test_runs_come_before_published_rows_even_when_they_score_lower(tmp_path):
    from tests.test_report import MATH5, _file_run, _greedy_rows

    # 1 of 6 right on each benchmark but the first, where none is
    weak = _file_run(tmp_path / "weak", _greedy_rows(lambda i, k: k == 0 and i > 0), ",".join(MATH5))
    code, rep, _, html = _report({"weak": weak}, tmp_path, "weak")
    rows = rep["leaderboard"]["rows"]
    assert code == 0 and rows[0]["label"] == "weak" and rows[0]["averages"]["avg5"]["mean"] == pytest.approx(4 / 30)
    assert all(r["kind"] == "reference" for r in rows[1:]) and len(rows) > 1
    if "<svg" in html:  # matplotlib present: the zero score is drawn on the axis, not left blank
        assert "zero-score" in html


def test_changed_problems_show_what_the_model_wrote(tmp_path):
    """The changed-problems table shows the extracted answer (4.6667, Bob), not the canonical key."""
    import json

    from prime_eval.report.compare import _majority
    from prime_eval.report.load import load_verdicts
    from prime_eval.report.runs import Run, SampleFiles

    rows = [{"id": "p", "sample": j, "correct": False, "score": 0.0, "answer": "46667/10000",
             "verdict": {"extracted": w}} for j, w in enumerate(["4.6667", "4.66670"])]  # fmt: skip
    rows.append(
        {"id": "q", "sample": 0, "correct": True, "score": 1.0, "answer": "bob", "verdict": {"extracted": "Bob"}}
    )
    path = tmp_path / "math500.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = Run("r", tmp_path, "harness", "m", {}, SampleFiles("prime", {"math500": path}))
    verdicts = load_verdicts(run, "math500")
    assert _majority(verdicts["p"]) == "4.6667 (2/2)" and _majority(verdicts["q"]) == "Bob"
