"""The labelled regression set of the math verifier.

``tests/data/math_equivalence.jsonl``: bare answer pairs ``{gold, pred, expected, category, why}`` (optional
``symmetric: false`` for pairs whose label depends on which side is the gold, ``key: false`` for equal pairs whose
majority-voting keys may differ). ``tests/data/math_extraction.jsonl``: whole responses and the answer the
extraction step must find (``null``: none). Labels are what is mathematically right under prime's policies, never
what the code happens to return: a failing row is a verifier bug unless its label is shown wrong.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prime_eval.verify.extract import extract_answer
from prime_eval.verify.math import MathVerifier, answer_key

DATA = Path(__file__).resolve().parent / "data"
EQUIVALENCE_ROWS = [json.loads(line) for line in (DATA / "math_equivalence.jsonl").read_text().splitlines() if line]
EXTRACTION_ROWS = [json.loads(line) for line in (DATA / "math_extraction.jsonl").read_text().splitlines() if line]

# Categories whose equal pairs must also share a majority-voting key (numbers in any notation, sets in any order).
KEY_CATEGORIES = {
    "integers",
    "leading_zeros",
    "float_golds",
    "fractions_decimals",
    "unreduced_fractions",
    "negatives",
    "thousands_separators",
    "scientific",
    "sets",
}
VERIFIER = MathVerifier()
ROW_TIMEOUT_S = 10


def _params(rows):
    """One pytest param per row, its id the row's index in the file (its line number - 1) and its category."""
    return [pytest.param(row, id=f"{i:03d}-{row['category']}") for i, row in rows]


def _describe(row, forward=True):
    gold, pred = (row["gold"], row["pred"]) if forward else (row["pred"], row["gold"])
    return f"gold={gold!r} pred={pred!r} expected={row['expected']} ({row['category']}: {row['why']})"


def test_equivalence_data_is_well_formed():
    assert len(EQUIVALENCE_ROWS) >= 400
    assert len(EXTRACTION_ROWS) >= 60
    seen = set()
    for row in EQUIVALENCE_ROWS:
        assert set(row) <= {"gold", "pred", "expected", "category", "why", "symmetric", "key"}, row
        assert isinstance(row["gold"], str) and isinstance(row["pred"], str), row
        assert isinstance(row["expected"], bool) and row["category"] and row["why"], row
        assert (row["gold"], row["pred"]) not in seen, f"duplicate row {row}"
        seen.add((row["gold"], row["pred"]))
    labels = {row["expected"] for row in EQUIVALENCE_ROWS}
    assert labels == {True, False}
    for row in EXTRACTION_ROWS:
        assert set(row) == {"response", "expected_answer", "why"}, row
        assert row["expected_answer"] is None or isinstance(row["expected_answer"], str), row


@pytest.mark.timeout(ROW_TIMEOUT_S)
@pytest.mark.parametrize("row", _params(enumerate(EQUIVALENCE_ROWS)))
def test_equivalence(row):
    assert VERIFIER.equivalent(row["gold"], row["pred"]) is row["expected"], _describe(row)


SYMMETRIC_ROWS = [(i, row) for i, row in enumerate(EQUIVALENCE_ROWS) if row.get("symmetric", True)]


@pytest.mark.timeout(ROW_TIMEOUT_S)
@pytest.mark.parametrize("row", _params(SYMMETRIC_ROWS))
def test_equivalence_reversed(row):
    """The label holds with gold and prediction swapped (every row not marked ``symmetric: false``)."""
    assert VERIFIER.equivalent(row["pred"], row["gold"]) is row["expected"], _describe(row, forward=False)


KEY_ROWS = [
    (i, row)
    for i, row in enumerate(EQUIVALENCE_ROWS)
    if row["expected"] and row["category"] in KEY_CATEGORIES and row.get("key", True)
]


@pytest.mark.timeout(ROW_TIMEOUT_S)
@pytest.mark.parametrize("row", _params(KEY_ROWS))
def test_equal_numbers_share_an_answer_key(row):
    gold_key, pred_key = answer_key(row["gold"]), answer_key(row["pred"])
    assert gold_key == pred_key, f"answer_key: {gold_key!r} != {pred_key!r} for {_describe(row)}"


def test_answer_key_of_one_half():
    keys = {answer_key(s) for s in ("0.5", "\\frac12", "1/2", "\\dfrac{1}{2}", "\\tfrac12", "\\frac{2}{4}", ".5")}
    assert len(keys) == 1, keys


@pytest.mark.timeout(ROW_TIMEOUT_S)
@pytest.mark.parametrize("row", EXTRACTION_ROWS, ids=[f"{i:03d}-extraction" for i in range(len(EXTRACTION_ROWS))])
def test_extraction(row):
    answer = extract_answer(row["response"]).answer
    actual = None if answer is None else answer.strip()
    assert actual == row["expected_answer"], (
        f"response={row['response']!r}: expected {row['expected_answer']!r}, got {actual!r} ({row['why']})"
    )
