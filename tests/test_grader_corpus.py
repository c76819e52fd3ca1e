"""The labelled grader corpus of issue 13: whole responses, as the public grader test suites and the issue's
categories give them, graded by the default math verifier.

``tests/data/grader_corpus.jsonl``: one case a line, ``{response, gold, expected, category, source, why,
prime_today}`` plus ``prime_today_note`` where ``prime_today`` is false. ``expected`` is a careful human grader's
verdict (where a source's own label is debatable the row says so in ``why``). ``prime_today`` records whether the
verifier gets the row right today: a row marked true that goes wrong is a regression, and a row marked false that
comes right must have its flag flipped, so the file always states what the verifier does.
``python -m benchmarks.perf.grader_corpus`` scores the same rows with Math-Verify side by side.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from prime_eval.verify import Status, verify_batch
from prime_eval.verify.math import MathVerifier

CORPUS = Path(__file__).resolve().parent / "data" / "grader_corpus.jsonl"
ROWS = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
ISSUE_CATEGORIES = {
    "prose": "answer in prose",
    "several_boxes": "several boxes",
    "equations": "equations and assignments",
    "units": "units and trailing words",
    "sets_intervals_pm": "sets, intervals, +-",
    "small_forms": "small forms",
    "phrase_extraction": "phrase extraction",
    "false_positives": "false positives",
    "crashes": "crashes",
}
REQUIRED = {"response", "gold", "expected", "category", "source", "why", "prime_today"}
# A public source is named as "owner/repo path/to/file"; a hand-written row by its issue category.
PUBLIC_SOURCE = re.compile(r"^[\w.-]+/[\w.-]+ [\w./-]+\.py\b")
# Far above any real check (p99 is milliseconds): only pathological inputs reach it, and they are known failures.
TIMEOUT_S = 5.0


def test_corpus_is_well_formed():
    assert 400 <= len(ROWS) <= 1000
    seen = set()
    for row in ROWS:
        assert REQUIRED <= set(row) <= REQUIRED | {"prime_today_note"}, row
        assert isinstance(row["response"], str) and isinstance(row["gold"], str) and row["gold"].strip(), row
        assert isinstance(row["expected"], bool) and isinstance(row["prime_today"], bool), row
        assert row["why"].strip() and row["category"].strip(), row
        assert row["prime_today"] or row.get("prime_today_note"), f"a known failure says how it fails: {row}"
        source = row["source"]
        if source.startswith("hand-written: "):
            assert source == f"hand-written: {ISSUE_CATEGORIES[row['category']]}", row
        else:
            assert PUBLIC_SOURCE.match(source), f"source must name the project and file: {source!r}"
        key = (row["response"], row["gold"])
        assert key not in seen, f"duplicate row {key}"
        seen.add(key)


def test_every_category_has_both_verdicts_and_issue_categories_have_thirty_rows():
    counts = Counter((row["category"], row["expected"]) for row in ROWS)
    for category in {row["category"] for row in ROWS}:
        assert counts[category, True] and counts[category, False], category
    for category in ISSUE_CATEGORIES:
        assert counts[category, True] + counts[category, False] >= 30, category


@pytest.fixture(scope="module")
def verdicts():
    return verify_batch(
        MathVerifier(), [r["response"] for r in ROWS], [r["gold"] for r in ROWS], timeout_s=TIMEOUT_S, progress=False
    )


def _describe(row, verdict) -> str:
    d = verdict.details
    return (
        f"[{row['category']}] expected={row['expected']} got {verdict.status.value} "
        f"(extracted {d.get('extracted')!r}, reason {d.get('reason')!r}) | gold {row['gold'][:80]!r} | "
        f"response {row['response'][-120:]!r} | {row['why']}"
    )


def test_rows_prime_gets_right_today_stay_right(verdicts):
    regressions = [
        _describe(row, v)
        for row, v in zip(ROWS, verdicts)
        if row["prime_today"] and (v.correct != row["expected"] or v.status in (Status.ERROR, Status.TIMEOUT))
    ]
    assert not regressions, f"{len(regressions)} rows regressed:\n" + "\n".join(regressions)


def test_known_failures_are_still_failures(verdicts):
    """A fix that makes a known failure pass flips its ``prime_today`` to true (and drops the note). Rows whose
    note starts ``nondeterministic:`` pass or fail with machine load today; they are exempt until fixed."""
    fixed = [
        _describe(row, v)
        for row, v in zip(ROWS, verdicts)
        if not row["prime_today"]
        and not row["prime_today_note"].startswith("nondeterministic:")
        and v.correct == row["expected"]
        and v.status not in (Status.ERROR, Status.TIMEOUT)
    ]
    assert not fixed, f"{len(fixed)} known failures now pass; set prime_today true:\n" + "\n".join(fixed)


def test_no_row_outside_the_known_failures_crashes(verdicts):
    """Crashes are a category of their own: every row that ends in ``error`` or ``timeout`` today is listed as a
    known failure with the crash in its note, and no other row may."""
    crashes = [(row, v) for row, v in zip(ROWS, verdicts) if v.status in (Status.ERROR, Status.TIMEOUT)]
    for row, v in crashes:
        assert not row["prime_today"], _describe(row, v)
        assert re.search(r"status (error|timeout)", row["prime_today_note"]), _describe(row, v)
