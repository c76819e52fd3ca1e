"""The tests of a coding task, and how they become a harness program and per-test outcomes.

Two kinds cover the coding benchmarks:

``functional``  test snippets run against the candidate's namespace: HumanEval (``check(entry_point)``, one test),
                MBPP (one assert per test, ``test_imports`` as preamble), PRIME's LeetCode set (its ``test`` field
                split at each assert). The candidate and its tests run in one sandboxed process under
                ``_harness.py``.
``stdio``       input/expected-output pairs (LiveCodeBench/Codeforces style): one sandboxed run per case, output
                compared here, outside the sandbox, token by token with an optional float tolerance.
"""

from __future__ import annotations

import ast
import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HARNESS_PROGRAM = Path(__file__).with_name("_harness.py").read_text() + "\n\n_main()\n"
OUTCOMES = ("pass", "fail", "error", "timeout", "not_run")


@dataclass(frozen=True)
class StdioCase:
    input: str
    output: str


@dataclass(frozen=True)
class CodeTests:
    """The reference a ``CodeVerifier`` checks a response against.

    ``prompt`` (HumanEval) is put before the response: a response that only completes the function body gets its
    signature from it, and one that restates the whole function still gets the prompt's imports and helpers.
    ``entry_point`` names the function a full-function response must define to replace the prompt's stub.
    ``preamble`` is trusted code run before the candidate (MBPP's test imports, LeetCode's typing imports).
    """

    kind: str = "functional"
    tests: tuple[str, ...] = ()
    preamble: str = ""
    prompt: str = ""
    entry_point: str = ""
    cases: tuple[StdioCase, ...] = ()
    float_tolerance: float | None = None
    task_id: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("functional", "stdio"):
            raise ValueError(f"CodeTests.kind must be 'functional' or 'stdio', got {self.kind!r}")
        if not (self.tests if self.kind == "functional" else self.cases):
            raise ValueError(f"task {self.task_id or '?'} has no tests")

    @property
    def count(self) -> int:
        return len(self.tests) if self.kind == "functional" else len(self.cases)

    @classmethod
    def from_value(cls, value: CodeTests | Mapping[str, Any]) -> CodeTests:
        """Accept the dataclass or its JSON form (``cases`` as ``[{"input", "output"}]``)."""
        if isinstance(value, CodeTests):
            return value
        data = dict(value)
        data["tests"] = tuple(data.get("tests", ()))
        data["cases"] = tuple(StdioCase(**c) if isinstance(c, Mapping) else c for c in data.get("cases", ()))
        return cls(**data)


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


class _Guard(ast.NodeTransformer):
    """Route comparisons and bare truth tests through the harness's type guards (see ``_harness.py``)."""

    _OPS = {
        ast.Eq: "==",
        ast.NotEq: "!=",
        ast.Lt: "<",
        ast.LtE: "<=",
        ast.Gt: ">",
        ast.GtE: ">=",
        ast.In: "in",
        ast.NotIn: "not in",
    }

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if not all(type(op) in self._OPS for op in node.ops):
            return node  # ``is`` cannot be fooled
        if len(node.ops) == 1:
            args = [node.left, ast.Constant(self._OPS[type(node.ops[0])]), node.comparators[0]]
            return ast.copy_location(_call("__prime_cmp__", args), node)
        rest = [
            ast.Tuple([ast.Constant(self._OPS[type(op)]), _thunk(right)], ast.Load())
            for op, right in zip(node.ops, node.comparators)
        ]
        return ast.copy_location(_call("__prime_chain__", [node.left, *rest]), node)

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        self.generic_visit(node)
        if not isinstance(node.test, ast.Call) or getattr(node.test.func, "id", "") not in _GUARDS:
            node.test = _call("__prime_truth__", [node.test])
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            node.operand = _call("__prime_truth__", [node.operand])
        return node


_GUARDS = {"__prime_cmp__", "__prime_chain__"}


def _call(name: str, args: list[ast.expr]) -> ast.Call:
    return ast.Call(ast.Name(name, ast.Load()), args, [])


def _thunk(expr: ast.expr) -> ast.Lambda:
    no_args = ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[])
    return ast.Lambda(no_args, expr)


@functools.lru_cache(maxsize=4096)  # a task's tests are guarded once, not once per sampled response
def guard(source: str) -> str:
    """The test code with every comparison and assert guarded. The test code is trusted benchmark data."""
    tree = _Guard().visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree))


def split_asserts(source: str) -> tuple[str, ...]:
    """One test per top-level ``assert``, each carrying the statements before it (LeetCode's ``test_input = ...``)."""
    tests: list[str] = []
    pending: list[ast.stmt] = []
    for stmt in ast.parse(source).body:
        pending.append(stmt)
        if isinstance(stmt, ast.Assert):
            tests.append(ast.unparse(ast.Module(pending, [])))
            pending = []
    if pending and tests:
        tests[-1] += "\n" + ast.unparse(ast.Module(pending, []))
    return tuple(tests)


def harness_config(candidate: str, tests: CodeTests, *, test_timeout_s: float, stop_on_first_failure: bool) -> str:
    """What ``HARNESS_PROGRAM`` runs, as JSON for a file beside it. The program text stays the same for every check,
    so the sandbox compiles it once per box rather than once per run."""
    config = {
        "program": candidate,
        "preamble": tests.preamble,
        "tests": [guard(test) for test in tests.tests],
        "test_timeout_s": test_timeout_s,
        "stop_on_first_failure": stop_on_first_failure,
    }
    return json.dumps(config)


def parse_report(stdout: str, nonce: str, count: int) -> Report:
    """Per-test outcomes from the harness's report lines; only lines carrying the nonce count, the first per test."""
    found: dict[int, TestOutcome] = {}
    load_error = None
    complete = False
    for line in stdout.splitlines():
        parts = line.split(" ", 3)
        if len(parts) != 4 or parts[0] != nonce:
            continue
        _, index, outcome, message = parts
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
