"""The code half of the shared verifier: extract the program from a response, run its tests in the sandbox.

Statuses (``base.Status``):

- ``ok``         every test passed (``correct``, score 1.0);
- ``wrong``      the program ran but not every test passed: failed asserts, compile or runtime errors, a test over
                 its time limit, a crash or a limit hit part-way (``score`` = fraction passed, PRIME's code reward);
- ``timeout``    the program (its top-level code, or the whole run) hit its time limit before a single test
                 reported: nothing could be judged;
- ``no_answer``  no program in the response (no code block, and the text is not Python either);
- ``error``      the sandbox failed; says nothing about the response.

``answer`` is a short hash of the extracted program, so identical programs share a key. ``details`` holds per-test
outcomes, the sandbox's status and the tail of stderr.

The whole check (all tests, or all stdio cases together) is bounded by ``CodeConfig.timeout_s``, in the sandbox:
``verify_batch`` runs code checks on threads of the calling process (``checks_run_elsewhere``), not in its pool.
Everything a check sends into the sandbox that another run must not find (the candidate, the tests, the prompt)
goes as the run's sealed payload. A program over ``MAX_PROGRAM_CHARS`` is ``wrong`` without a run.
"""

from __future__ import annotations

import ast
import hashlib
import re
import textwrap
import time
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from .base import Status, Verdict
from .code_tests import (
    HARNESS_MODULE,
    HARNESS_PROGRAM,
    HARNESS_SOURCE,
    SEALED_PROGRAM_LOADER,
    CodeTests,
    Report,
    TestOutcome,
    candidate_sources,
    harness_config,
    outputs_match,
    parse_report,
)
from .extract import strip_reasoning

# A functional check's run program where the box serves the harness as a helper: the candidate, which loads the
# program from the run's stdin and answers the helper's calls (``_harness._candidate_main``).
CANDIDATE_PROGRAM = f"import sys\nsys.modules[{HARNESS_MODULE!r}]._candidate_main()\n"
_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^[ \t]*```", re.DOTALL | re.MULTILINE)
_ALIASES = {"python": {"python", "python3", "py", "py3"}}
STDERR_TAIL = 2000
# Host-side parsing of a program costs about 3.5 us and 0.6 KB per character (``ast.parse`` of a code-only response,
# the entry-point check), and code checks run in the caller's process: a longer program is not run. Benchmark
# solutions are a few KB.
MAX_PROGRAM_CHARS = 100_000


def extract_program(response: str, language: str = "python") -> str | None:
    """The program in a response: the last fenced block tagged ``language`` (or an alias), else the last untagged
    block, else the whole response if it parses as Python (a code-only response). None if there is none."""
    text = strip_reasoning(response)
    if text is None:
        return None
    blocks = [(tag.lower(), body) for tag, body in _FENCE.findall(text)]
    names = _ALIASES.get(language, {language})
    for wanted in (names, {""}):
        tagged = [body for tag, body in blocks if tag in wanted]
        if tagged:
            return tagged[-1]
    if blocks or not text.strip() or language != "python" or len(text) > MAX_PROGRAM_CHARS:
        return None
    try:
        ast.parse(textwrap.dedent(text))
    except SyntaxError:
        return None
    return text


def _defines(program: str, name: str) -> bool:
    # Only text with ``def`` then the name (whitespace or line continuations between) can define it, in ASCII (else
    # NFKC may turn other letters into the name): most responses are a function body, and need no parse.
    if program.isascii() and not re.search(rf"\bdef[\s\\]*{re.escape(name)}\b", program):
        return False
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return False
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name for n in tree.body)


def assemble(code: str, tests: CodeTests) -> str:
    """The program to test: HumanEval-style responses are joined to the prompt (a body completes the prompt's
    signature; a full function redefines it after the prompt's imports and helpers)."""
    if not tests.prompt:
        return code
    if tests.entry_point and _defines(textwrap.dedent(code), tests.entry_point):
        return f"{tests.prompt}\n\n{textwrap.dedent(code)}"
    return tests.prompt + code


@dataclass(frozen=True)
class CodeConfig:
    language: str = "python"
    timeout_s: float = 8.0  # the whole check; below verify_batch's default 10 s
    test_timeout_s: float = 6.0  # one functional test, or one stdio case
    memory_mb: int = 1024
    stop_on_first_failure: bool = False
    backend: str = "local"
    # The rlimits level runs programs as the caller with its capabilities (root's CAP_SYS_PTRACE opens any process's
    # memory) and beside the caller's processes, which hold every task's tests: a candidate can read them there.
    # Code checks refuse that level unless this is set, and then say so in every verdict.
    allow_weak_isolation: bool = False


@dataclass(frozen=True)
class CodeVerifier:
    """Implements ``base.Verifier`` for code. ``reference`` is a ``CodeTests`` (or its dict form); ``meta`` is
    accepted and unused. Picklable, so ``verify_batch`` can ship it to workers."""

    config: CodeConfig = field(default_factory=CodeConfig)
    name: str = "code"
    # Each check runs in a sandbox run that bounds and kills it: verify_batch runs them from the calling process.
    checks_run_elsewhere: ClassVar[bool] = True

    def describe(self) -> dict[str, Any]:
        """Every setting that shapes a verdict, for results.json and bon.json; ``harness`` fingerprints the trusted
        test harness that ran the checks."""
        return {
            "name": self.name,
            "config": asdict(self.config),
            "harness": hashlib.sha256(HARNESS_PROGRAM.encode()).hexdigest()[:16],
        }

    def verify(self, response: str, reference: Any, **meta: Any) -> Verdict:
        tests = CodeTests.from_value(reference)
        code = extract_program(response, self.config.language)
        if code is None:
            return Verdict.failed(Status.NO_ANSWER, "no program found in the response")
        if len(code) > MAX_PROGRAM_CHARS:
            return Verdict.failed(Status.WRONG, f"program over {MAX_PROGRAM_CHARS} characters: not run")
        weak = self._weak_isolation()
        if weak and not self.config.allow_weak_isolation:
            return Verdict.failed(
                Status.ERROR, weak + " Refused: set CodeConfig(allow_weak_isolation=True) to run it."
            )
        program = assemble(code, tests)
        key = hashlib.sha256(program.encode()).hexdigest()[:16]
        if tests.kind == "stdio":
            report, sandbox = self._run_stdio(program, tests)
        else:
            report, sandbox = self._run_functional(program, tests)
        return _verdict(report, sandbox, key, weak, program)

    def _weak_isolation(self) -> str:
        """Why this backend cannot keep the tests from a candidate, or "" where it can."""
        import sandbox

        if sandbox.get_backend(self.config.backend).isolation != "rlimits":
            return ""
        return (
            "UNPROTECTED CODE CHECK: the sandbox runs at its rlimits level, where a candidate runs as the caller, "
            "beside the caller's processes and with the caller's capabilities: it can read the tests and forge "
            "its score."
        )

    def _limits(self, wall_s: float):
        from sandbox import Limits

        return Limits(wall_time_s=wall_s, cpu_time_s=wall_s, memory_mb=self.config.memory_mb)

    def _run_functional(self, program: str, tests: CodeTests) -> tuple[Report, dict[str, Any]]:
        import sandbox
        from sandbox.local import preload_module

        # Trusted and public (the sandbox's rule for a preload): a local box builds the harness once, not per check.
        preload_module(HARNESS_MODULE, HARNESS_SOURCE)

        config = harness_config(
            program,
            tests,
            test_timeout_s=self.config.test_timeout_s,
            stop_on_first_failure=self.config.stop_on_first_failure,
        )
        backend = sandbox.get_backend(self.config.backend)
        limits = self._limits(self.config.timeout_s)
        stdin = candidate_sources(program, tests)
        if getattr(backend, "serves_helpers", False):
            # The tests run in the box's harness helper, which lives across runs outside them; the run's program is
            # the candidate alone, forked from the box's runner: one process per check instead of two.
            run = backend.run(CANDIDATE_PROGRAM, sealed=config, stdin=stdin, limits=limits, helper=HARNESS_MODULE)
        else:
            run = backend.run(HARNESS_PROGRAM, sealed=config, stdin=stdin, limits=limits)
        report = parse_report(run.stdout, tests.count)
        if run.status.value != "ok" or not report.complete:
            # Whatever stopped the run also stopped the tests that never reported.
            cause = "timeout" if run.status.value == "timeout" else "not_run"
            report = Report(
                tests=[t if t.outcome != "not_run" else TestOutcome(cause, run.reason) for t in report.tests],
                load_error=report.load_error,
                complete=False,
            )
        return report, _sandbox_details(run)

    def _run_stdio(self, program: str, tests: CodeTests) -> tuple[Report, dict[str, Any]]:
        import sandbox

        outcomes: list[TestOutcome] = []
        deadline = time.monotonic() + self.config.timeout_s
        last: dict[str, Any] = {}
        for case in tests.cases:
            left = deadline - time.monotonic()
            if left <= 0.05 or (outcomes and not outcomes[-1].passed and self.config.stop_on_first_failure):
                outcomes.append(TestOutcome("timeout" if left <= 0.05 else "not_run"))
                continue
            run = sandbox.run(
                SEALED_PROGRAM_LOADER,
                sealed=program,
                stdin=case.input,
                limits=self._limits(min(self.config.test_timeout_s, left)),
                backend=self.config.backend,
            )
            last = _sandbox_details(run)
            status = run.status.value
            if status == "sandbox_error":
                return Report(tests=outcomes, load_error=None, complete=False), last
            if status == "ok":
                good = not run.stdout_truncated and outputs_match(run.stdout, case.output, tests.float_tolerance)
                outcomes.append(TestOutcome("pass" if good else "fail", "" if good else "wrong output"))
            else:
                outcomes.append(TestOutcome("timeout" if status == "timeout" else "error", run.reason))
        return Report(tests=outcomes, complete=len(outcomes) == tests.count), last


def _sandbox_details(run: Any) -> dict[str, Any]:
    return {
        "status": run.status.value,
        "exit_code": run.exit_code,
        "signal": run.signal,
        "wall_s": round(run.wall_s, 4),
        "reason": run.reason,
        "isolation": run.isolation,
        "stderr_tail": run.stderr[-STDERR_TAIL:],
    }


def _verdict(report: Report, sandbox: dict[str, Any], key: str, warning: str, program: str) -> Verdict:
    total = len(report.tests)
    passed = sum(t.passed for t in report.tests)
    details = {
        "program": program,  # what ran (the response's program joined to the task's prompt); ``answer`` is its hash
        "passed": passed,
        "total": total,
        "tests": [{"outcome": t.outcome, "message": t.message} for t in report.tests],
        "sandbox": sandbox,
    }
    if report.load_error:
        details["load_error"] = report.load_error
    if warning:
        details["warning"] = warning
    if sandbox.get("status") == "sandbox_error":
        return Verdict.failed(Status.ERROR, f"sandbox failure: {sandbox['reason']}", **details)
    load_timed_out = (report.load_error or "").startswith("timeout")
    nothing_ran = all(t.outcome in ("timeout", "not_run") for t in report.tests)
    if nothing_ran and (load_timed_out or (sandbox.get("status") == "timeout" and not report.load_error)):
        return Verdict(correct=False, score=0.0, status=Status.TIMEOUT, answer=key, details=details)
    correct = total > 0 and passed == total
    return Verdict(
        correct=correct,
        score=passed / total if total else 0.0,
        status=Status.OK if correct else Status.WRONG,
        answer=key,
        details=details,
    )
