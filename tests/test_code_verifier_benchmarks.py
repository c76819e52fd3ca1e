"""Every reference solution of HumanEval (164) and PRIME's MBPP split (399) passes; broken variants fail; the
scoring helpers for ``prime-eval score --benchmark`` load the coding benchmarks and name bad rows. Needs the shared
benchmark files (the ``shared_data`` fixture)."""

from __future__ import annotations

import pytest

from benchmarks.loading import load_benchmark
from benchmarks.registry import UnknownBenchmark, get_benchmark
from prime_eval.code_scoring import load_code_tasks, row_to_check
from prime_eval.verify import Status, verify_batch
from prime_eval.verify.code import CodeConfig, CodeVerifier

pytestmark = pytest.mark.usefixtures("shared_data")
# Generous: on a loaded 2-core runner MBPP 123's reference takes about 4 s for one test.
VERIFIER = CodeVerifier(CodeConfig(timeout_s=20, test_timeout_s=15))


def _solutions(benchmark: str) -> dict[str, str]:
    """The reference program of every task (the definition's ``fields.solution``)."""
    return {p.id: p.meta["solution"] for p in load_benchmark(get_benchmark(benchmark)).problems}


def _check_all(benchmark: str, ids: list[str] | None = None):
    tasks = load_code_tasks(benchmark)
    solutions = _solutions(benchmark)
    ids = ids or list(solutions)
    verdicts = verify_batch(
        VERIFIER, [solutions[i] for i in ids], [tasks[i] for i in ids], timeout_s=40, progress=False
    )
    return {i: v for i, v in zip(ids, verdicts)}


@pytest.mark.parametrize("benchmark, count", [("humaneval", 164), ("mbpp", 399)])
def test_every_reference_solution_passes(benchmark, count):
    verdicts = _check_all(benchmark)
    assert len(verdicts) == count
    failed = {i: v.details for i, v in verdicts.items() if not v.correct}
    assert not failed, failed


def _break(code: str) -> str:
    """A plausible wrong program: every return value is off."""
    return code.replace("return ", "return None and ")


@pytest.mark.parametrize("benchmark", ["humaneval", "mbpp"])
def test_broken_variants_fail(benchmark):
    tasks = load_code_tasks(benchmark)
    solutions = _solutions(benchmark)
    ids = [i for i in solutions if "return " in solutions[i]][:20]
    verdicts = verify_batch(
        VERIFIER, [_break(solutions[i]) for i in ids], [tasks[i] for i in ids], timeout_s=40, progress=False
    )
    passed = [i for i, v in zip(ids, verdicts) if v.correct]
    assert not passed
    assert all(v.status in (Status.WRONG, Status.TIMEOUT) for v in verdicts)


def test_leetcode_tasks_load_and_score():
    tasks = load_code_tasks("leetcode")
    assert len(tasks) == 180 and all(t.count > 0 for t in tasks.values())
    task = tasks["weekly-contest-381-minimum-number-of-pushes-to-type-word-i"]
    solution = (
        "```python\nclass Solution:\n    def minimumPushes(self, word: str) -> int:\n"
        "        return sum(i // 8 + 1 for i in range(len(word)))\n```"
    )
    assert VERIFIER.verify(solution, task).correct
    partial = VERIFIER.verify(solution.replace("len(word)", "min(len(word), 8)"), task)
    assert partial.status is Status.WRONG and 0 < partial.score < 1


def test_leetcode_objects_cross_as_handles():
    """The tests build a linked list from the candidate's ``ListNode`` class and walk the one it returns: every
    node stays in the candidate's process, and only its plain ``val`` fields come back."""
    task = load_code_tasks("leetcode")["weekly-contest-358-double-a-number-represented-as-a-linked-list"]
    solution = (
        "```python\nclass ListNode:\n    def __init__(self, val=0, next=None):\n        self.val = val\n"
        "        self.next = next\n\nclass Solution:\n    def doubleIt(self, head):\n        digits = []\n"
        "        while head:\n            digits.append(head.val)\n            head = head.next\n"
        "        out = None\n        for d in reversed(str(2 * int(''.join(map(str, digits))))):\n"
        "            out = ListNode(int(d), out)\n        return out\n```"
    )
    verdict = VERIFIER.verify(solution, task)
    assert verdict.correct, verdict.details
    assert not VERIFIER.verify(solution.replace("2 * int", "3 * int"), task).correct


def test_rows_map_to_checks_with_clear_errors():
    tasks = load_code_tasks("mbpp")
    response, reference, meta = row_to_check({"task_id": 2, "response": "x"}, tasks)
    assert response == "x" and reference is tasks["2"] and meta == {}
    with pytest.raises(ValueError, match=r"gens.jsonl:7: unknown task_id '99999'"):
        row_to_check({"task_id": 99999, "response": "x"}, tasks, where="gens.jsonl:7")
    with pytest.raises(ValueError, match="gens.jsonl:3: missing field 'response'"):
        row_to_check({"task_id": 2}, tasks, where="gens.jsonl:3")
    with pytest.raises(UnknownBenchmark, match="unknown benchmark 'apps'"):
        load_code_tasks("apps")
    with pytest.raises(UnknownBenchmark, match="math500 is not a code benchmark; code benchmarks: humaneval, "):
        load_code_tasks("math500")

