"""MathVerifier.verify end to end: statuses, references, keys, configuration, hostile inputs."""

from __future__ import annotations

import time

import pytest

from prime_eval.verify import Status, Verifier
from prime_eval.verify.extract import ExtractionConfig
from prime_eval.verify.math import MathConfig, MathVerifier, answer_key

V = MathVerifier()


def test_implements_the_shared_protocol():
    assert isinstance(V, Verifier)
    described = V.describe()
    assert described["name"] == "math" and described["config"]["percent"] == "strip"


@pytest.mark.parametrize(
    "response, reference, status, answer",
    [
        ("We get $\\boxed{\\dfrac{1}{2}}$.", "0.5", Status.OK, "1/2"),
        ("We get $\\boxed{3}$.", "4", Status.WRONG, "3"),
        ("I am not sure.", "4", Status.NO_ANSWER, None),
        ("<think>the answer is \\boxed{4}", "4", Status.NO_ANSWER, None),
        ("<think>try 3</think>The answer is $4$.", "4", Status.OK, "4"),
        ("\\boxed{}", "4", Status.NO_ANSWER, None),
    ],
)
def test_statuses(response, reference, status, answer):
    verdict = V.verify(response, reference)
    assert verdict.status is status
    assert verdict.correct is (status is Status.OK) and verdict.score == float(status is Status.OK)
    assert verdict.answer == answer


def test_reference_forms():
    assert V.verify("\\boxed{142}", 142.0).correct  # AMC float gold
    assert V.verify("\\boxed{73}", "073").correct  # AIME leading zero
    assert V.verify("\\boxed{5}", ["x = 5", "five"]).correct  # alternatives
    assert V.verify("\\boxed{5}", "Adding, we find $\\boxed{5}$.").correct  # a whole reference solution
    with pytest.raises(ValueError):
        V.verify("\\boxed{5}", None)


def test_details_say_how_the_verdict_was_reached():
    verdict = V.verify("so $\\boxed{2\\sqrt{2}}$", "\\sqrt{8}")
    assert verdict.details["extracted"] == "2\\sqrt{2}"
    assert verdict.details["source"] == "boxed"
    assert verdict.details["method"] == "numeric"
    assert V.verify("so $\\boxed{\\frac{2}{4}}$", "0.5").details["method"] == "exact"


def test_equal_values_give_equal_keys():
    assert len({answer_key(a) for a in ["0.5", "\\frac12", "1/2", "\\dfrac{2}{4}", "\\tfrac{1}{2}", "50\\%"]}) == 2
    assert answer_key("\\{3, 1\\}") == answer_key("\\{1,3\\}")
    assert answer_key("x = 7") == answer_key("7") == answer_key("7.0")
    assert answer_key("(1,2)") != answer_key("[1,2]")


def test_policies_are_configurable():
    value_percent = MathVerifier(MathConfig(percent="value"))
    assert not V.equivalent("50\\%", "0.5") and V.equivalent("50\\%", "50")
    assert value_percent.equivalent("50\\%", "0.5") and not value_percent.equivalent("50\\%", "50")
    assert not MathVerifier(MathConfig(strip_units=False)).equivalent("5", "5 \\text{ cm}")
    fallback = MathVerifier(MathConfig(extraction=ExtractionConfig(last_number_fallback=True)))
    assert not V.verify("it is 3 or maybe 4", "4").correct
    assert fallback.verify("it is 3 or maybe 4", "4").correct
    with pytest.raises(ValueError, match="percent"):
        MathConfig(percent="x100")


def test_mixed_numbers_and_repeated_boxes():
    assert V.equivalent("\\frac{639}{40}", "15\\frac{39}{40}")
    assert V.verify(
        "$d = \\boxed{15\\frac{39}{40}},$ or $\\boxed{\\frac{639}{40}}$ inches.", "\\frac{639}{40}"
    ).correct
    assert not V.verify("\\boxed{2} and \\boxed{3}", "2").correct
    assert V.verify("\\boxed{2} and \\boxed{3}", "3, 2").correct


@pytest.mark.parametrize(
    "response",
    [
        "\\boxed{" + "x+" * 30000 + "1}",  # ~100 kB expression
        "".join(chr(33 + (i * 7919) % 90) for i in range(100_000)),  # 100 kB of garbage
        "\\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}",  # deeply nested braces
        "\\boxed{" + "(" * 3000 + "1" + ")" * 3000 + "}",
        "\\boxed{9^{9^{9^{9}}}}",
        "\\boxed{10^{10^{10^{10}}} - 10^{10^{10^{10}}}}",
    ],
)
def test_hostile_inputs_finish_fast_in_process(response):
    start = time.perf_counter()
    verdict = V.verify(response, "2")
    assert time.perf_counter() - start < 2.0
    assert not verdict.correct


def test_extraction_profiles_are_named_and_recorded():
    strict = MathVerifier(MathConfig(extraction=ExtractionConfig.strict()))
    assert V.describe()["config"]["extraction"]["profile"] == "default"
    assert strict.describe()["config"]["extraction"]["profile"] == "strict"
    assert ExtractionConfig.named("strict") == ExtractionConfig.strict()
    assert ExtractionConfig.named("default") == ExtractionConfig()
    with pytest.raises(ValueError, match="profile"):
        ExtractionConfig(profile="lenient")
    # The default reads the value the final statement gives; the strict profile pays only for marked answers.
    assert V.verify("The radius of the circle is 3 units.", "3").correct
    assert strict.verify("The radius of the circle is 3 units.", "3").status is Status.NO_ANSWER
    assert strict.verify("42", "42").status is Status.NO_ANSWER
    for marked in ("\\boxed{3}", "The answer is 3.", "Work.\n#### 3", "Work.\nA: 3"):
        assert strict.verify(marked, "3").correct, marked


@pytest.mark.parametrize(
    "response, reference, status",
    [
        ("\\boxed{}, \\boxed{}", "4", Status.NO_ANSWER),  # was an IndexError on the joined ","
        ("The answer is either \\boxed{3} or \\boxed{5}.", "3", Status.NO_ANSWER),  # a hedge
        ("I think it might be 5, but I am not sure; it could be 6.", "5", Status.NO_ANSWER),
        ("The solutions are \\(\\boxed{-9}\\) and \\(\\boxed{-1}\\).", "-9, -1", Status.OK),
        ("The solutions are \\(\\boxed{-9}\\) and \\(\\boxed{-1}\\).", "-1", Status.WRONG),  # a partial answer
        ("The interest is \\boxed{255}.\n\nThe final answer is $10,455$.", "10455", Status.OK),
        ("So the probability is 2/3. <|im_start|>user", "\\frac23", Status.OK),
        ("Therefore, $x^3 = 12$.", "12", Status.OK),
        ("She makes 9 * 2 = 18 dollars.\nA: 18", "18", Status.OK),
    ],
)
def test_issue13_extraction_statuses(response, reference, status):
    assert V.verify(response, reference).status is status


def test_final_statement_is_read_in_a_bounded_window():
    response = "We add the numbers 1 and 2 to get 3. " * 30_000 + "So the total is 7."
    start = time.perf_counter()
    assert V.verify(response, "7").correct
    assert time.perf_counter() - start < 1.0
