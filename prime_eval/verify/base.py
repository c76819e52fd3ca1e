"""The one verifier interface that evaluation, Best-of-N labels and training rewards all call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol, runtime_checkable


class Status(str, Enum):
    """Why a verdict is what it is. Only ``OK`` is correct; the others tell apart *how* a check failed, so
    that "the model gave no answer" never looks like "the grader hung"."""

    OK = "ok"
    WRONG = "wrong"
    NO_ANSWER = "no_answer"
    TIMEOUT = "timeout"
    ERROR = "error"


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check.

    ``score`` is 1.0/0.0 for math and a pass fraction for code. ``answer`` is the extracted answer in canonical
    form: two answers with equal values get equal keys (``0.5``, ``\\frac12`` and ``1/2`` all give ``1/2``), so it
    can be used for majority voting. ``details`` holds what a human needs to audit the verdict.
    """

    correct: bool
    score: float
    status: Status
    answer: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "correct": self.correct,
            "score": self.score,
            "status": self.status.value,
            "answer": self.answer,
            "details": dict(self.details),
        }

    @classmethod
    def failed(cls, status: Status, reason: str, **details: Any) -> Verdict:
        """A verdict for a check that could not decide (timeout, crash, no answer): never correct."""
        return cls(correct=False, score=0.0, status=status, answer=None, details={"reason": reason, **details})


@runtime_checkable
class Verifier(Protocol):
    """Anything that judges a model response against a reference.

    Implementations must be picklable (``verify_batch`` ships them to worker processes) and side-effect free.
    """

    name: str

    def describe(self) -> dict[str, Any]:
        """Every setting that shapes a verdict (``results.json`` and ``bon.json`` record it): name, version, config."""
        ...

    def verify(self, response: str, reference: Any, **meta: Any) -> Verdict: ...
