"""A box's helper process (``sandbox._box._Helpers``): a trusted process forked from the runner once, confined like
a program, living across runs outside their pid namespaces. A run that names it: the helper gets the run's sealed
payload and stdout, the program only two pipes to it. The code verifier's harness is one (its tests run there, the
candidate is the run's program)."""

from __future__ import annotations

import json
import warnings

import pytest

import sandbox.local
from prime_eval.verify.code import CodeConfig, CodeVerifier
from prime_eval.verify.code_tests import CodeTests
from sandbox import Limits
from sandbox.local import LocalBackend, SandboxWeakWarning, preload_module

# Serves each run: reads the sealed payload, asks the program a question over the pipes, and reports what it saw of
# itself and what the program answered on the run's stdout.
HELPER = """
import ctypes, json, os, socket, time

def _helper_main(fd):
    channel = socket.socket(fileno=fd)
    while True:
        message, fds, _, _ = socket.recv_fds(channel, 16, 4)
        if message != b"check":
            os._exit(0)
        sealed, to_program, from_program, out = fds
        payload = os.read(sealed, 1000).decode()
        if payload == "hang":
            time.sleep(60)
        status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
        os.write(to_program, b"?")
        answer = json.loads(os.read(from_program, 1 << 16) or b"null")
        me = {key: status[key].strip() for key in ("CapEff", "NoNewPrivs", "Seccomp")}
        me["dumpable"] = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE
        os.write(out, json.dumps({"pid": os.getpid(), "sealed": payload, "me": me, "program": answer}).encode())
        for each in fds:
            os.close(each)
        channel.send(b"done")
"""
# The run's program: answers with what it can see, after trying to kill every process it can.
PROGRAM = """
import json, os, signal, stat
os.read(3, 1)
try:
    os.kill(-1, signal.SIGKILL)
except OSError:
    pass
fd3 = "pipe" if stat.S_ISFIFO(os.fstat(3).st_mode) else "other"
others = sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid())
os.write(4, json.dumps({"pid": os.getpid(), "parent": os.getppid(), "others": others, "fd3": fd3}).encode())
"""


@pytest.fixture()
def backend(monkeypatch):
    monkeypatch.setattr(sandbox.local, "_preloads", {})
    preload_module("_test_helper", HELPER)
    backend = LocalBackend(workers=1)
    if not backend.serves_helpers:
        pytest.skip("bubblewrap with user namespaces is not available here")
    yield backend
    backend.close()


def _run(backend, sealed="secret", wall_s=5.0):
    return backend.run(PROGRAM, sealed=sealed, limits=Limits(wall_time_s=wall_s), helper="_test_helper")


def test_the_helper_gets_the_sealed_payload_and_runs_confined_outside_the_run(backend):
    first = _run(backend, "one")
    assert first.ok, (first.status, first.reason, first.stderr)
    seen = json.loads(first.stdout)
    assert seen["sealed"] == "one"
    assert seen["me"] == {"CapEff": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2", "dumpable": 0}
    # The program is pid 1 of its run, sees no other process (the helper is outside), and holds only pipes.
    assert seen["program"] == {"pid": 1, "parent": 0, "others": [], "fd3": "pipe"}
    # Its kill(-1) reached nothing outside its run: the same helper serves the next run.
    second = json.loads(_run(backend, "two").stdout)
    assert (second["pid"], second["sealed"]) == (seen["pid"], "two")


def test_a_helper_over_the_wall_time_is_killed_and_replaced(backend):
    first = json.loads(_run(backend).stdout)
    hung = _run(backend, "hang", wall_s=1.0)
    assert hung.status.value == "timeout"
    after = json.loads(_run(backend).stdout)
    assert after["pid"] != first["pid"] and after["program"]["pid"] == 1


def test_a_helper_needs_the_namespaces_level_and_a_preloaded_module(backend):
    with pytest.raises(ValueError):
        backend.run(PROGRAM, sealed="x", helper="_not_preloaded")
    weak = LocalBackend(workers=1, isolation="rlimits")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SandboxWeakWarning)
            assert not weak.serves_helpers
        with pytest.raises(ValueError):
            weak.run(PROGRAM, sealed="x", helper="_test_helper")
    finally:
        weak.close()


def test_every_candidate_of_a_check_is_a_fresh_run_process_forked_by_the_box():
    """After a candidate dies, the next test gets a new one: again pid 1 of a fresh run (its own /tmp), never a
    process the harness forked."""
    program = (
        "import os\n"
        "def probe(x):\n"
        "    mark = '/tmp/mark'\n"
        "    seen = os.path.exists(mark)\n"
        "    open(mark, 'w').close()\n"
        "    if x == 0:\n"
        "        os._exit(3)\n"
        "    return [os.getpid(), seen]\n"
    )
    tests = CodeTests(tests=("assert probe(0)", "assert probe(1) == [1, False]"), entry_point="probe")
    verdict = CodeVerifier(CodeConfig(timeout_s=5, test_timeout_s=2)).verify(f"```python\n{program}```", tests)
    assert [t["outcome"] for t in verdict.details["tests"]] == ["error", "pass"], verdict.details


def test_a_run_naming_a_module_the_box_lacks_is_refused_and_the_box_goes_on(backend, monkeypatch):
    # As when a helper's preload failed: the run is a sandbox error, the box serves the next run.
    monkeypatch.setitem(sandbox.local._preloads, "_missing_helper", "raise ImportError('no')")
    refused = backend.run(PROGRAM, sealed="x", helper="_missing_helper")
    assert refused.status.value == "sandbox_error" and "helper" in refused.reason
    assert json.loads(_run(backend, "after").stdout)["sealed"] == "after"


def test_a_candidate_flooding_the_helper_costs_its_own_check_only():
    """The helper outlives runs, so answers at and past the wire's frame limit (16 MiB) must cost the flooding check
    its tests and nothing more: the next check, served by the same box, scores in full."""
    verifier = CodeVerifier(CodeConfig(timeout_s=10, test_timeout_s=5))
    tests = CodeTests(tests=("assert add(1, 2) == 3", "assert add(2, 2) == 4"), entry_point="add")
    flood = "def add(a, b):\n    return 'x' * (((16 << 20) - 64) if a == 1 else (17 << 20))\n"
    flooded = verifier.verify(f"```python\n{flood}```", tests)
    assert flooded.details["passed"] == 0 and not flooded.correct, flooded.details
    honest = verifier.verify("```python\ndef add(a, b):\n    return a + b\n```", tests)
    assert honest.correct and honest.details["passed"] == 2, honest.details
