"""The reward-model interface of the Best-of-N bench, and the two reward models that need no network.

A reward model scores every candidate of the file in one call (so a neural one can batch as it likes) and
describes itself fully, because ``bon.json`` must say which model and which settings produced its numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from prime_common.registry import Registry

from ..scoring import InputError
from ..verify.base import Verdict

MAX_REPORTED_ERRORS = 10


@dataclass(frozen=True)
class Candidate:
    """One row of the candidates file. ``where`` is ``"path:line"`` for messages; ``row`` is the whole row
    (reward models may read any field of it); ``verdict`` is the verifier's label, set before scoring."""

    where: str
    benchmark: str
    problem_id: str | int
    gold: Any
    response: str
    row: Mapping[str, Any] = field(repr=False)
    verdict: Verdict | None = None


@runtime_checkable
class RewardModel(Protocol):
    """Anything that gives every candidate one number; higher is better. Scores must be finite.

    A reward model that reads the verifier's labels sets a class attribute ``needs_labels = True``; the bench
    then scores after labelling (otherwise before, so that bad scores fail fast).
    """

    name: str

    def describe(self) -> dict[str, Any]:
        """Everything needed to reproduce the scores: name, model identity, settings."""
        ...

    def score(self, candidates: list[Candidate]) -> list[float]:
        """One score per candidate, in order."""
        ...


class ScoreError(InputError):
    """Scores that cannot be used (missing, not a number, not finite), reported with their lines."""


def _raise_if_any(errors: list[str]) -> None:
    if errors:
        more = f"\n... and {len(errors) - MAX_REPORTED_ERRORS} more" if len(errors) > MAX_REPORTED_ERRORS else ""
        raise ScoreError("\n".join(errors[:MAX_REPORTED_ERRORS]) + more)


@dataclass(frozen=True)
class OracleRM:
    """Scores each candidate with its verifier label (``Verdict.score``), so ``bon@N`` equals ``pass@N``:
    the ceiling any reward model can reach on this pool."""

    name: str = "oracle"
    needs_labels: ClassVar[bool] = True

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "score": "verifier label (Verdict.score)"}

    def score(self, candidates: list[Candidate]) -> list[float]:
        missing = [c.where for c in candidates if c.verdict is None]
        if missing:
            raise ValueError(f"the oracle needs labelled candidates; unlabelled: {', '.join(missing[:5])}")
        return [float(c.verdict.score) for c in candidates]  # type: ignore[union-attr]


@dataclass(frozen=True)
class FieldRM:
    """Scores already in the candidates file, in the field ``field`` (e.g. computed by an external PRM).

    Every value must be a finite JSON number (booleans are refused: ``true`` is most likely a label, not a
    score). All bad rows are reported at once, each with its line.
    """

    field: str
    name: str = "field"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "field": self.field}

    def score(self, candidates: list[Candidate]) -> list[float]:
        from ..fields import did_you_mean

        missing = [c for c in candidates if self.field not in c.row]
        errors = []
        if missing:  # one message, not one a row: the field is usually misnamed, not missing here and there
            present = {k for c in candidates for k in c.row}
            errors.append(
                f"{missing[0].where}: no score field {self.field!r} in {len(missing)} of {len(candidates)} rows"
                + did_you_mean(self.field, present)
            )
        scores = []
        for c in candidates:
            if self.field not in c.row:
                continue
            value = c.row[self.field]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                errors.append(f"{c.where}: score field {self.field!r} is not a number: {value!r}")
                continue
            if not math.isfinite(value):
                errors.append(f"{c.where}: score field {self.field!r} is not finite: {value!r}")
                continue
            scores.append(float(value))
        _raise_if_any(errors)
        return scores


# Reward models by name, imported when used so that a neural one imports torch only then. The neural ones take the
# model path first and their settings as keyword arguments (docs/reward-models.md).
REWARD_MODELS = Registry(
    "reward model",
    {
        "oracle": "prime_eval.bon.reward_models:OracleRM",
        "field": "prime_eval.bon.reward_models:FieldRM",
        "implicit_prm": "prime_eval.rewards.implicit_prm:ImplicitPRM",
        "orm": "prime_eval.rewards.orm:ORM",
    },
)
