"""The tests of a coding task as data (``CodeTests``), built from HumanEval, MBPP and PRIME's LeetCode rows
(LiveCodeBench's in ``livecodebench.py``): ``functional`` test snippets run against the candidate's top-level names,
or ``stdio`` input/expected-output cases. The code verifier (``prime_eval.verify.code``) runs them.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# LeetCode solutions use these names without importing them, as the judge's own environment provides them.
LEETCODE_PREAMBLE = (
    "from typing import *\n"
    "from collections import *\n"
    "from functools import *\n"
    "from itertools import *\n"
    "from heapq import *\n"
    "from bisect import *\n"
    "from math import *\n"
    "import collections, functools, heapq, itertools, math, string, re, bisect, operator\n"
)


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


def task_from_row(code_format: str, row: Mapping[str, Any], task_id: str) -> CodeTests:
    """The tests of one HumanEval, MBPP or LeetCode row (the definition's ``code_format``, checked by the registry)."""
    if code_format == "humaneval":
        test = f"{row['test']}\n\ncheck({row['entry_point']})\n"
        return CodeTests(tests=(test,), prompt=row["prompt"], entry_point=row["entry_point"], task_id=task_id)
    if code_format == "mbpp":
        return CodeTests(tests=tuple(row["test_list"]), preamble="\n".join(row["test_imports"]), task_id=task_id)
    return CodeTests(tests=split_asserts(row["test"]), preamble=LEETCODE_PREAMBLE, task_id=task_id)
