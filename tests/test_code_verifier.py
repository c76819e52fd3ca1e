"""CodeVerifier: extraction, test formats, statuses, and cheats that must not pass."""

from __future__ import annotations

import pickle

import pytest

from prime_eval.verify import Status, verify_batch
from prime_eval.verify.code import CodeConfig, CodeVerifier, extract_program
from prime_eval.verify.code_tests import CodeTests, StdioCase, outputs_match, split_asserts

ADD = CodeTests(tests=("assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(2, 2) == 4"))
GOOD = "```python\ndef add(a, b):\n    return a + b\n```"
FAST = CodeVerifier(CodeConfig(timeout_s=4, test_timeout_s=2))


def fenced(code: str) -> str:
    return f"Here you go.\n```python\n{code}\n```\nDone."


@pytest.mark.parametrize(
    "response, program",
    [
        ("```python\na = 1\n```\ntext\n```python\nb = 2\n```", "b = 2\n"),
        ("```py\nx = 1\n```\n```\ny = 2\n```", "x = 1\n"),
        ("```\ny = 2\n```", "y = 2\n"),
        ("def f():\n    return 1\n", "def f():\n    return 1\n"),
        ("<think>```python\nbad\n```</think>```python\ngood = 1\n```", "good = 1\n"),
        ("The answer is forty-two.", None),
        ("<think>unfinished ```python\nx = 1\n```", None),
        ("```js\nlet x = 1\n```", None),
    ],
)
def test_extract_program(response, program):
    assert extract_program(response) == program


def test_all_tests_pass():
    verdict = FAST.verify(GOOD, ADD)
    assert verdict.correct and verdict.score == 1.0 and verdict.status is Status.OK
    assert verdict.details["passed"] == 3 and len(verdict.answer) == 16


def test_partial_score_is_the_pass_fraction():
    verdict = FAST.verify(fenced("def add(a, b):\n    return 3 if a == 1 else a + b + (a == 2)"), ADD)
    assert not verdict.correct and verdict.status is Status.WRONG
    assert verdict.score == pytest.approx(2 / 3)
    assert [t["outcome"] for t in verdict.details["tests"]] == ["pass", "pass", "fail"]


def test_stop_on_first_failure():
    verifier = CodeVerifier(CodeConfig(stop_on_first_failure=True, timeout_s=4))
    verdict = verifier.verify(fenced("def add(a, b):\n    return 0"), ADD)
    assert [t["outcome"] for t in verdict.details["tests"]] == ["fail", "not_run", "not_run"]


def test_no_code_is_no_answer():
    assert FAST.verify("I cannot solve this.", ADD).status is Status.NO_ANSWER


def test_syntax_and_runtime_errors_are_wrong():
    verdict = FAST.verify(fenced("def add(a, b)\n    return a + b"), ADD)
    assert verdict.status is Status.WRONG and "SyntaxError" in verdict.details["load_error"]
    verdict = FAST.verify(fenced("def add(a, b):\n    return a / 0"), ADD)
    assert verdict.status is Status.WRONG and verdict.details["tests"][0]["outcome"] == "error"


def test_slow_test_times_out_alone():
    code = "import time\ndef add(a, b):\n    if a == -1:\n        time.sleep(60)\n    return a + b"
    verdict = FAST.verify(fenced(code), ADD)
    assert [t["outcome"] for t in verdict.details["tests"]] == ["pass", "timeout", "pass"]
    assert verdict.status is Status.WRONG


def test_a_killed_candidate_is_replaced_and_its_objects_die_with_it():
    """After a timeout the next test gets a fresh candidate process; objects of the killed one (kept by the tests)
    are gone, so the tests that use them fail, while names the tests look up anew work again."""
    tests = CodeTests(
        tests=(
            "s = Solution()\nassert s.f(1) == 2",
            "assert s.f(-1) == 0",
            "assert s.f(2) == 3",
            "assert Solution().f(3) == 4",
        )
    )
    code = "import time\nclass Solution:\n    def f(self, n):\n        if n < 0:\n            time.sleep(60)\n        return n + 1"
    verdict = FAST.verify(fenced(code), tests)
    assert [t["outcome"] for t in verdict.details["tests"]] == ["pass", "timeout", "error", "pass"]
    assert "killed" in verdict.details["tests"][2]["message"]


def test_program_that_never_loads_is_a_timeout():
    verifier = CodeVerifier(CodeConfig(timeout_s=1.5, test_timeout_s=5))
    verdict = verifier.verify(fenced("while True:\n    pass"), ADD)
    assert verdict.status is Status.TIMEOUT and verdict.score == 0.0


CHEATS = {
    "sys.exit(0) before the tests": "import sys\nsys.exit(0)",
    "os._exit(0) before the tests": "import os\nos._exit(0)",
    "exit(0) inside the function": "import sys\ndef add(a, b):\n    sys.exit(0)",
    "atexit forcing status 0": "import atexit, os\natexit.register(lambda: os._exit(0))\ndef add(a, b):\n    raise Exception",
    "__eq__ always True": (
        "class Yes:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
        "def add(a, b):\n    return Yes()"
    ),
    "int subclass with __eq__": "class I(int):\n    def __eq__(self, o):\n        return True\ndef add(a, b):\n    return I(-7)",
    "__bool__ always True": "class T:\n    def __bool__(self):\n        return True\ndef add(a, b):\n    return T()",
    "killing the parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(1, signal.SIGKILL)",
    "printing fake reports": (
        "import sys\nfor i in range(3):\n    print('0' * 32, i, 'pass', '\"\"')\n"
        "    sys.__stdout__.write(f'{i} pass\\n')\nprint('end done')\ndef add(a, b):\n    return None"
    ),
    "rebinding the guards": (
        "def add(a, b):\n    globals()['__prime_cmp__'] = lambda *x: True\n"
        "    import builtins\n    builtins.__prime_cmp__ = lambda *x: True\n    return None"
    ),
    "reading the tests and nonce": (
        "import os\nleak = [open(f).read() for f in os.listdir('.') if os.path.isfile(f)]\n"
        "def add(a, b):\n    raise RuntimeError(leak)"
    ),
}


@pytest.mark.parametrize("code", CHEATS.values(), ids=CHEATS.keys())
def test_cheats_do_not_pass(code):
    verdict = FAST.verify(fenced(code), ADD)
    assert not verdict.correct and verdict.score == 0.0, verdict.details


def test_truth_of_a_candidate_object_is_a_bool_it_gives_no_more_than_a_plain_return():
    tests = CodeTests(tests=("assert is_even(2)", "assert not is_even(3)"))
    honest = FAST.verify(fenced("def is_even(n):\n    return n % 2 == 0"), tests)
    assert honest.correct
    # A generator is truthy wherever it goes, as a constant True would be: one of the two asserts fails.
    always = FAST.verify(fenced("def is_even(n):\n    return (x for x in [])"), tests)
    assert [t["outcome"] for t in always.details["tests"]] == ["pass", "fail"]
    # A __bool__ that answers something else than a bool is an error in the candidate's process.
    odd = FAST.verify(
        fenced("class T:\n    def __bool__(self):\n        return 1\ndef is_even(n):\n    return T()"), tests
    )
    assert odd.score == 0.0 and all(t["outcome"] == "error" for t in odd.details["tests"])


def test_stop_iteration_from_a_call_does_not_end_the_tests_loop():
    tests = CodeTests(tests=("assert all(map(is_even, [2, 4, 6]))", "assert not all(map(is_even, [2, 3]))"))
    assert FAST.verify(fenced("def is_even(n):\n    return n % 2 == 0"), tests).correct
    verdict = FAST.verify(fenced("def is_even(n):\n    raise StopIteration"), tests)
    assert verdict.score == 0.0 and verdict.details["tests"][0]["message"].startswith("CandidateError: StopIteration")
    raised = FAST.verify(fenced("def is_even(n):\n    raise UnicodeDecodeError('x', b'', 0, 1, 'y')"), tests)
    assert raised.score == 0.0


def test_humaneval_completion_and_full_function():
    tests = CodeTests(
        tests=(
            "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(-3) == 9\n\ncheck(square)\n",
        ),
        prompt='import math\n\n\ndef square(x: int) -> int:\n    """Square x."""\n',
        entry_point="square",
    )
    assert FAST.verify("    return x * x\n", tests).correct
    assert FAST.verify(fenced("def square(x):\n    return int(math.pow(x, 2))"), tests).correct
    assert not FAST.verify("    return x + x\n", tests).correct


def test_leetcode_style_tests_split_per_assert():
    source = "s = Solution()\n\nx = {'n': 1}\nassert s.f(**x) == 2\n\nx = {'n': 2}\nassert s.f(**x) == 3\n"
    parts = split_asserts(source)
    assert len(parts) == 2 and parts[0].startswith("s = Solution()") and "x = {'n': 2}" in parts[1]
    tests = CodeTests(tests=parts, preamble="from typing import List")
    code = "class Solution:\n    def f(self, n: int) -> List[int]:\n        return n + 1"
    assert FAST.verify(fenced(code), tests).correct


def test_stdio_cases_with_whitespace_and_float_tolerance():
    tests = CodeTests(
        kind="stdio",
        cases=(StdioCase("1 2\n", "3\n"), StdioCase("2.5 2.5\n", "5.0000001")),
        float_tolerance=1e-6,
    )
    code = "a, b = map(float, input().split())\ns = a + b\nprint(int(s) if s.is_integer() and '.' not in str(a) else s, ' ')"
    verdict = FAST.verify(fenced(code), tests)
    assert verdict.correct, verdict.details
    wrong = FAST.verify(fenced("print(0)"), tests)
    assert wrong.score == 0.0 and [t["outcome"] for t in wrong.details["tests"]] == ["fail", "fail"]
    crash = FAST.verify(
        fenced("raise SystemExit(1)"), CodeTests.from_value({"kind": "stdio", "cases": [{"input": "", "output": "1"}]})
    )
    assert crash.details["tests"][0]["outcome"] == "error"


@pytest.mark.parametrize(
    "actual, expected, tolerance, same",
    [
        ("1 2 \n3\n\n", "1 2\n3", None, True),
        ("1  2", "1 2", None, True),
        ("1 2", "1\n2", None, False),
        ("0.3333333", "0.333333333", 1e-6, True),
        ("0.3333333", "0.333333333", None, False),
        ("nan", "nan", 1e-6, True),
        ("abc", "abd", 1e-6, False),
    ],
)
def test_outputs_match(actual, expected, tolerance, same):
    assert outputs_match(actual, expected, tolerance) is same


def test_verifier_is_picklable_and_works_through_verify_batch():
    verifier = CodeVerifier(CodeConfig(timeout_s=4, test_timeout_s=2))
    assert pickle.loads(pickle.dumps(verifier)) == verifier
    responses = [GOOD, fenced("def add(a, b):\n    return 0"), fenced("while True:\n    pass"), "no code"]
    verdicts = verify_batch(verifier, responses, [ADD] * 4, workers=2, timeout_s=10, progress=False)
    assert [v.status for v in verdicts] == [Status.OK, Status.WRONG, Status.TIMEOUT, Status.NO_ANSWER]
    assert all(v.details.get("sandbox", {}).get("isolation") in (None, "namespaces") for v in verdicts)


def test_reference_as_dict():
    assert FAST.verify(GOOD, {"tests": list(ADD.tests)}).correct
    with pytest.raises(ValueError):
        CodeTests(tests=())


def test_the_rlimits_level_is_refused_unless_allowed_and_then_flagged(monkeypatch):
    """There a candidate runs as the caller with its capabilities, beside processes holding every test."""
    import os
    import warnings

    from sandbox import backends
    from sandbox.local import LocalBackend, SandboxWeakWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SandboxWeakWarning)
        weak = LocalBackend(workers=1, isolation="rlimits")
        assert weak.isolation == "rlimits"
    monkeypatch.setitem(backends._backends, ("local", os.getpid()), weak)
    try:
        refused = FAST.verify(GOOD, ADD)
        assert refused.status is Status.ERROR and "allow_weak_isolation" in refused.details["reason"]
        allowed = CodeVerifier(CodeConfig(timeout_s=4, test_timeout_s=2, allow_weak_isolation=True))
        verdict = allowed.verify(GOOD, ADD)
        assert verdict.correct and verdict.details["warning"].startswith("UNPROTECTED CODE CHECK")
    finally:
        weak.close()
    assert "warning" not in FAST.verify(GOOD, ADD).details  # the default backend: namespaces here


def test_verify_batch_runs_code_checks_from_this_process_without_the_pool(monkeypatch):
    from prime_eval.verify import pool

    def no_pool(*args, **kwargs):
        raise AssertionError("code checks must not go through the verifier pool")

    monkeypatch.setattr(pool, "get_pool", no_pool)
    half = "```python\ndef add(a, b):\n    return abs(a) + b\n```"  # wrong on add(-1, 1) only
    verdicts = verify_batch(FAST, [GOOD, half] * 3, [ADD] * 6, workers=2)
    assert [v.correct for v in verdicts] == [True, False] * 3
    assert [v.score for v in verdicts[:2]] == [1.0, 2 / 3]


def test_a_program_too_long_to_parse_cheaply_is_not_run():
    import time

    from prime_eval.verify.code import MAX_PROGRAM_CHARS

    filler = "x = 1\n" * (MAX_PROGRAM_CHARS // 6 + 1)
    start = time.monotonic()
    fenced_verdict = FAST.verify(f"```python\n{filler}def add(a, b):\n    return a + b\n```", ADD)
    bare_verdict = FAST.verify(f"{filler}def add(a, b):\n    return a + b\n", ADD)
    assert time.monotonic() - start < 1.0  # neither is parsed on the host nor run
    assert fenced_verdict.status is Status.WRONG and "not run" in fenced_verdict.details["reason"]
    assert bare_verdict.status is Status.NO_ANSWER


def test_the_program_that_ran_and_every_setting_are_recorded():
    """What ran is kept per sample (the answer key is only its hash), and describe() carries every setting that shapes
    a verdict, for results.json and bon.json."""
    prompt = 'def add(a, b):\n    """The sum."""\n'
    tests = CodeTests(prompt=prompt, entry_point="add", tests=("assert add(1, 2) == 3",))
    verifier = CodeVerifier(CodeConfig(timeout_s=5.0, memory_mb=512))
    verdict = verifier.verify("```python\n    return a + b\n```", tests)
    assert verdict.correct and verdict.details["program"] == prompt + "    return a + b\n"
    described = verifier.describe()
    assert described["name"] == "code" and len(described["harness"]) == 16
    assert described["config"]["timeout_s"] == 5.0 and described["config"]["memory_mb"] == 512
    assert described["config"]["backend"] == "local" and "test_timeout_s" in described["config"]


@pytest.mark.parametrize(
    "program",
    [
        "def f(x):\n    return 1\n",
        "async  def f():\n  pass",
        "    return 1",
        "def ff(): pass",
        "class A:\n    def f(self): pass",
        "def\\\nf(x): return 1",
        "@d\ndef f(): pass",
        "def \uff46(x): return 1",  # fullwidth f: NFKC makes it f
        "def f(:",
    ],
)
def test_whether_a_response_defines_the_entry_point_is_decided_as_by_a_parse(program):
    import ast

    from prime_eval.verify.code import _defines

    try:
        body = ast.parse(program).body
    except SyntaxError:
        body = []
    expected = any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "f" for n in body)
    assert _defines(program, "f") is expected
