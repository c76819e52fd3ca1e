"""How a coding task's tests (``benchmarks.code_tasks.CodeTests``, the benchmark's data) become a harness program
and per-test outcomes.

``functional`` tests run, in one sandbox run, in a trusted process that calls the candidate, in a process of its
own, with plain data only (``_harness.py``, ``_wire.py``). ``stdio`` cases get one sandboxed run each, their output
compared here, outside the sandbox, token by token with an optional float tolerance.
"""

from __future__ import annotations

import ast
import builtins
import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

# Re-exported: the verifier's callers name the test types here.
from benchmarks.code_tasks import CodeTests, StdioCase, split_asserts  # noqa: F401

_HERE = Path(__file__).parent
HARNESS_SOURCE = "\n\n".join((_HERE / name).read_text() for name in ("_wire.py", "_harness.py"))
# A local box builds HARNESS_SOURCE once as this module (``sandbox.local.preload_module``); a run that finds it there
# calls it and never reaches the module body after it, which it would otherwise run (a docker run, a box started
# before the preload).
HARNESS_MODULE = "_prime_code_harness"
HARNESS_PROGRAM = f"""\
import sys as _sys
if {HARNESS_MODULE!r} in _sys.modules:
    _sys.modules[{HARNESS_MODULE!r}]._main(__file__)
    raise SystemExit("the harness returned")

{HARNESS_SOURCE}

_main(__file__)
"""
# A stdio check's program: the candidate's source comes as the run's sealed payload, so that it never passes through
# the box's runner, where a later run (another sample of the same task, say) could find it in memory.
SEALED_PROGRAM_LOADER = """\
def _sealed_source():
    import os
    chunks = []
    while chunk := os.read(3, 1 << 20):
        chunks.append(chunk)
    os.close(3)
    return b"".join(chunks)
_code = compile(_sealed_source(), __file__, "exec")
del _sealed_source
exec(_code)
"""
OUTCOMES = ("pass", "fail", "error", "timeout", "not_run")


@dataclass(frozen=True)
class TestOutcome:
    outcome: str
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"


@dataclass(frozen=True)
class Report:
    tests: list[TestOutcome]
    load_error: str | None = None
    complete: bool = False


def harness_config(candidate: str, tests: CodeTests, *, test_timeout_s: float, stop_on_first_failure: bool) -> str:
    """What ``HARNESS_PROGRAM`` runs, as JSON for the run's sealed payload: everything of a check that another run
    must not find (the candidate, the prompt, the tests). The program text stays the same for every check, so the
    sandbox compiles it once per box rather than once per run. The preamble and the prompt are trusted: the tests
    see their definitions, never the candidate's versions of them."""
    config = {
        "program": candidate,
        "preamble": tests.preamble,
        "prompt": trusted_prompt(tests.prompt, tests.entry_point),
        "entry_point": tests.entry_point or _builtin_named_entry(tests.tests),
        "tests": list(tests.tests),
        "test_timeout_s": test_timeout_s,
        "stop_on_first_failure": stop_on_first_failure,
    }
    return json.dumps(config)


def candidate_sources(candidate: str, tests: CodeTests) -> str:
    """What the harness's first candidate process loads as soon as it is forked, as JSON for the run's stdin: the
    preamble and the candidate's program, nothing the candidate may not see. The sandbox keeps a run's stdin from
    every other run as it keeps its sealed payload."""
    return json.dumps([tests.preamble, candidate])


@functools.lru_cache(maxsize=4096)  # once per task, not once per sampled response
def trusted_prompt(prompt: str, entry_point: str) -> str:
    """The prompt as the harness runs it in the tests' namespace: without its stub of the entry point, which the
    tests never see (the candidate's definition of that name always replaces it), so the harness does not compile
    the stub's docstring, often most of the prompt, in every check. Everything else (imports, helpers) stays."""
    if not entry_point:
        return prompt
    try:
        tree = ast.parse(prompt)
    except SyntaxError:
        return prompt  # the harness reports the same error when it runs it
    kept = [
        node
        for node in tree.body
        if not (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point)
    ]
    return prompt if len(kept) == len(tree.body) else ast.unparse(ast.Module(kept, []))


@functools.lru_cache(maxsize=4096)
def _builtin_named_entry(tests: tuple[str, ...]) -> str:
    """The task's function when the tests name none but call one that shadows a builtin (MBPP 126 asks for a
    ``sum``). The harness lets a candidate replace a builtin in the tests only under that name, so that it cannot
    supply, say, the ``abs`` of ``abs(f(x) - y) < 1e-6``. Only when the tests call nothing else is a builtin's
    name taken as the task's: with ``f`` or a second builtin called there, none is."""
    called = {
        node.func.id
        for source in tests
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    return called.pop() if len(called) == 1 and hasattr(builtins, next(iter(called))) else ""


def parse_report(stdout: str, count: int) -> Report:
    """Per-test outcomes from the harness's report lines, the first per test. Only the trusted harness process holds
    the run's stdout; the candidate's process writes to /dev/null."""
    found: dict[int, TestOutcome] = {}
    load_error = None
    complete = False
    for line in stdout.splitlines():
        parts = line.split(" ", 2)
        if len(parts) != 3:
            continue
        index, outcome, message = parts
        if index == "end":
            complete = True
        elif index == "load":
            load_error = f"{outcome}: {_message(message)}"
        elif index.isdigit() and int(index) < count and outcome in OUTCOMES:
            found.setdefault(int(index), TestOutcome(outcome, _message(message)))
    tests = [found.get(i, TestOutcome("not_run")) for i in range(count)]
    return Report(tests=tests, load_error=load_error, complete=complete)


def _message(raw: str) -> str:
    try:
        return str(json.loads(raw))
    except ValueError:
        return raw


def outputs_match(actual: str, expected: str, float_tolerance: float | None = None) -> bool:
    """Whitespace-tolerant comparison: same tokens line by line, blank lines ignored; numbers within
    ``float_tolerance`` (absolute or relative) match when one is given."""
    got, want = _lines(actual), _lines(expected)
    if len(got) != len(want):
        return False
    for got_line, want_line in zip(got, want):
        if got_line == want_line:
            continue
        if len(got_line) != len(want_line) or float_tolerance is None:
            return False
        if not all(_close(a, b, float_tolerance) for a, b in zip(got_line, want_line)):
            return False
    return True


def _lines(text: str) -> list[list[str]]:
    lines = [line.split() for line in text.strip().splitlines()]
    return [line for line in lines if line] if lines else []


def _close(a: str, b: str, tolerance: float) -> bool:
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return math.isfinite(x) and math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance)
