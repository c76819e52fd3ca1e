"""verify_batch: order, kill-based timeouts, crash and memory recovery, threads."""

from __future__ import annotations

import os
import threading
import time

import pytest

from prime_eval.verify import Status, verify_batch
from prime_eval.verify.math import MathVerifier
from tests._hostile_verifier import HostileVerifier


def test_order_is_preserved_across_workers():
    golds = [str(i) for i in range(300)]
    responses = [f"so the answer is $\\boxed{{{i if i % 3 else i + 1}}}$" for i in range(300)]
    verdicts = verify_batch(MathVerifier(), responses, golds, workers=2, timeout_s=20)
    assert [v.correct for v in verdicts] == [i % 3 != 0 for i in range(300)]
    assert [v.answer for v in verdicts[:4]] == ["1", "1", "2", "4"]


def test_hung_crashed_and_failing_checks_cost_one_verdict_each():
    responses = ["a", "spin", "b", "exit", "c", "raise", "d", "sleep", "e"]
    golds = ["a", "x", "b", "x", "c", "x", "d", "x", "zz"]
    start = time.monotonic()
    verdicts = verify_batch(HostileVerifier(), responses, golds, workers=2, timeout_s=1.0)
    elapsed = time.monotonic() - start
    statuses = [v.status for v in verdicts]
    assert statuses == [
        Status.OK, Status.TIMEOUT, Status.OK, Status.ERROR, Status.OK, Status.ERROR, Status.OK, Status.TIMEOUT,
        Status.OK,
    ]  # fmt: skip
    assert [v.correct for v in verdicts] == [True, False, True, False, True, False, True, False, False]
    assert "exited with code 3" in verdicts[3].details["reason"]
    assert "RuntimeError: verifier bug" in verdicts[5].details["reason"]
    assert elapsed < 10, "two 1 s timeouts must not stall the batch"


def test_memory_cap_stops_a_runaway_check():
    verdicts = verify_batch(HostileVerifier(), ["memory", "ok"], ["x", "ok"], workers=1, timeout_s=30, memory_mb=700)
    assert verdicts[0].status is Status.ERROR and not verdicts[0].correct
    assert "memory" in verdicts[0].details["reason"]
    assert verdicts[1].correct


def test_checks_never_run_in_the_callers_process():
    verdicts = verify_batch(HostileVerifier(), ["a", "b"], ["a", "b"], workers=2)
    assert all(v.details["pid"] != os.getpid() for v in verdicts)


def test_power_tower_is_bounded():
    """Too large to evaluate: never an error (issue 13), decided by the parse tree, well inside the pool's limit."""
    start = time.monotonic()
    verdicts = verify_batch(
        MathVerifier(),
        ["\\boxed{9^{9^{9^{9}}}}"] * 3,
        ["9^{9^{9^{10}}}", "3", "9^{9^{9^{9}}}"],
        timeout_s=5,
    )
    assert [v.status for v in verdicts] == [Status.WRONG, Status.WRONG, Status.OK]
    assert time.monotonic() - start < 5


def test_callable_from_threads():
    results = {}

    def work(k: int) -> None:
        golds = [str(k * 100 + i) for i in range(50)]
        results[k] = verify_batch(MathVerifier(), [f"\\boxed{{{g}}}" for g in golds], golds, workers=2)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [0, 1, 2]
    assert all(v.correct for vs in results.values() for v in vs)
    assert results[2][7].answer == "207"


def test_argument_errors():
    with pytest.raises(ValueError, match="2 responses but 1 references"):
        verify_batch(MathVerifier(), ["a", "b"], ["a"])
    with pytest.raises(ValueError, match="timeout_s"):
        verify_batch(MathVerifier(), ["a"], ["a"], timeout_s=0)
    assert verify_batch(MathVerifier(), [], []) == []
