"""Trusted modules a local box builds once in its runner (``sandbox.local.preload_module``), and the code harness
that uses it: every run finds the module built, no name a run imports can be replaced, and a check gives the same
verdicts whether its box preloaded the harness or not."""

from __future__ import annotations

import logging

import pytest

import sandbox.local
from prime_eval.verify.code import CodeConfig, CodeVerifier, assemble
from prime_eval.verify.code_tests import (
    HARNESS_MODULE,
    HARNESS_PROGRAM,
    HARNESS_SOURCE,
    CodeTests,
    candidate_sources,
    harness_config,
    trusted_prompt,
)
from sandbox import Limits
from sandbox.local import LocalBackend, preload_module


@pytest.fixture()
def registry(monkeypatch):
    """A registry of this test's own, so that its modules reach no other test's boxes."""
    monkeypatch.setattr(sandbox.local, "_preloads", {})
    return sandbox.local._preloads


@pytest.fixture()
def backend():
    backend = LocalBackend(workers=1)
    if backend.isolation == "rlimits":
        pytest.skip("no bubblewrap here")
    yield backend
    backend.close()


def test_a_preloaded_module_is_built_once_per_box_and_every_run_finds_it(registry, backend):
    # A random token drawn when the module is built: each run building its own would draw another.
    preload_module("_prime_test_built", "import os\nTOKEN = os.urandom(8).hex()\nVALUE = 6 * 7\n")
    runs = [backend.run("import _prime_test_built as m\nprint(m.VALUE, m.TOKEN)") for _ in range(3)]
    assert runs[0].ok and runs[0].stdout.startswith("42 "), runs[0].stderr
    assert {run.stdout for run in runs} == {runs[0].stdout}
    # A run changes its own copy only: the next run finds the module as the runner built it.
    assert backend.run("import _prime_test_built as m\nm.VALUE = 0\nprint(m.VALUE)").stdout == "0\n"
    assert backend.run("import _prime_test_built as m\nprint(m.VALUE)").stdout == "42\n"


def test_a_box_started_before_the_preload_gets_it_before_its_next_run(registry, backend):
    assert backend.run("import sys\nprint('_prime_late' in sys.modules)").stdout == "False\n"
    preload_module("_prime_late", "X = 1\n")
    assert backend.run("import sys\nprint('_prime_late' in sys.modules)").stdout == "True\n"


def test_a_preload_never_replaces_a_module_the_runner_has(registry, backend, caplog):
    preload_module("json", "def dumps(*args, **kwargs):\n    return 'forged'\n")
    with caplog.at_level(logging.WARNING, logger="sandbox.local"):
        run = backend.run("import json\nprint(json.dumps([1]))")
    assert run.stdout == "[1]\n", run.stderr
    assert "could not preload" in caplog.text


def test_another_source_under_a_taken_name_is_refused(registry):
    preload_module("_prime_twice", "X = 1\n")
    preload_module("_prime_twice", "X = 1\n")  # the same source again: nothing to do
    with pytest.raises(ValueError):
        preload_module("_prime_twice", "X = 2\n")


def test_the_trusted_prompt_drops_only_the_entry_points_stub():
    prompt = (
        "import math\n\ndef helper(x):\n    return math.sqrt(x)\n\n"
        'def task(xs: list) -> float:\n    """ A long docstring the tests never see.\n    >>> task([4])\n    2.0\n    """\n'
    )
    trusted = trusted_prompt(prompt, "task")
    namespace: dict = {}
    exec(trusted, namespace)
    assert namespace["helper"](9) == 3.0 and "task" not in namespace and "docstring" not in trusted
    assert trusted_prompt(prompt, "") == prompt  # no entry point named: the prompt as it is
    assert trusted_prompt("def broken(:\n", "broken") == "def broken(:\n"


HUMANEVAL_LIKE = CodeTests(
    tests=(
        "def check(candidate):\n    assert candidate([1.0, 2.0], 0.5) is False\n    assert helper(2) == 4\n"
        "check(has_close)\n",
    ),
    prompt=(
        "def helper(x):\n    return x * 2\n\n"
        'def has_close(numbers, threshold):\n    """ True if two numbers are closer than threshold. """\n'
    ),
    entry_point="has_close",
)
GOOD = "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1 :])\n"
# A candidate that redefines the prompt's helper: the tests keep the trusted one, so this still passes.
SHADOWS_HELPER = GOOD + "\ndef helper(x):\n    return 0\n"


@pytest.mark.parametrize("preloaded", [True, False])
@pytest.mark.parametrize(("response", "passes"), [(GOOD, True), (SHADOWS_HELPER, True), ("    return True\n", False)])
def test_the_harness_judges_alike_with_and_without_the_preloaded_module(
    registry, backend, preloaded, response, passes
):
    # Without it, runs build the harness from the program text, as a docker run or an older box does.
    if preloaded:
        preload_module(HARNESS_MODULE, HARNESS_SOURCE)
    config = harness_config(
        assemble(response, HUMANEVAL_LIKE), HUMANEVAL_LIKE, test_timeout_s=3, stop_on_first_failure=False
    )
    probe = backend.run(f"import sys\nprint({HARNESS_MODULE!r} in sys.modules)")
    assert probe.stdout == f"{preloaded}\n"
    stdin = candidate_sources(assemble(response, HUMANEVAL_LIKE), HUMANEVAL_LIKE)
    run = backend.run(HARNESS_PROGRAM, sealed=config, stdin=stdin, limits=Limits(wall_time_s=5, cpu_time_s=5))
    assert run.ok, run.stderr
    assert run.stdout.splitlines()[0].startswith("0 pass" if passes else "0 fail"), run.stdout
    assert run.stdout.endswith('end done ""\n')


def test_the_verifier_preloads_its_harness():
    verdict = CodeVerifier(CodeConfig()).verify(GOOD, HUMANEVAL_LIKE)
    assert verdict.correct, verdict.details
    assert sandbox.local._preloads.get(HARNESS_MODULE)


def test_the_first_candidate_loads_the_programs_on_stdin_unasked_and_a_fresh_one_the_sealed_one(backend):
    # The two copies differ only here, to show which one each candidate process loaded: the first process must
    # start loading at its fork (from stdin), and one started after a timeout must get the program in the config.
    first = "import time\n\ndef has_close(numbers, threshold):\n    time.sleep(5)\n"
    later = "def has_close(numbers, threshold):\n    return False\n"
    tests = CodeTests(tests=("assert has_close([1.0], 0.5) is False\n",) * 2, entry_point="has_close")
    config = harness_config(later, tests, test_timeout_s=0.5, stop_on_first_failure=False)
    run = backend.run(
        HARNESS_PROGRAM,
        sealed=config,
        stdin=candidate_sources(first, tests),
        limits=Limits(wall_time_s=10, cpu_time_s=10),
    )
    assert run.stdout.splitlines()[:2] == ['0 timeout "over 0.5 s"', '1 pass ""'], run.stdout + run.stderr
