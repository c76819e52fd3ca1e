"""Which published scores a report shows: ``--references eurus2`` (a whole set from
``benchmarks/reference_scores.yaml``), ``eurus2:Eurus-2-7B-PRIME`` (one model of a set), ``none``."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.references import ReferenceSet, reference_sets

from .runs import ReportError

DEFAULT = ("eurus2",)
NONE = "none"


@dataclass(frozen=True)
class Reference:
    """One published row: ``scores`` as fractions (the YAML holds percent), the set it comes from."""

    set: ReferenceSet
    model: str
    scores: dict[str, float]
    published_avg: float | None

    @property
    def label(self) -> str:
        return f"{self.model} [{self.set.name}]"

    @property
    def settings(self) -> dict[str, Any]:
        return self.set.settings


def _did_you_mean(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    return f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""


def select_references(names: Sequence[str] | None) -> list[Reference]:
    """References named on the command line, each item ``SET`` or ``SET:MODEL``, commas allowed; in given order."""
    items = [
        part.strip() for name in (DEFAULT if names is None else names) for part in name.split(",") if part.strip()
    ]
    if NONE in items:
        if len(items) > 1:
            raise ReportError(f"--references {NONE} cannot be combined with other names")
        return []
    sets = reference_sets()
    out: list[Reference] = []
    for item in items:
        set_name, _, model = item.partition(":")
        if set_name not in sets:
            if Path(item).exists():  # nargs="+" swallowed a run named after --references
                raise ReportError(f"--references {item!r} is a path: put --references after the runs")
            raise ReportError(
                f"unknown reference set {set_name!r}; {_did_you_mean(set_name, list(sets))}"
                f"known: {', '.join(sets)} (or {NONE})"
            )
        chosen = sets[set_name]
        models = list(chosen.models)
        if model and model not in chosen.models:
            raise ReportError(
                f"reference set {set_name!r} has no model {model!r}; {_did_you_mean(model, models)}known: {', '.join(models)}"
            )
        for m in [model] if model else models:
            if any(r.set.name == set_name and r.model == m for r in out):
                continue
            row = chosen.models[m]
            scores = {b: v / 100 for b, v in row.items() if b != "avg"}
            published = row.get("avg")
            out.append(Reference(chosen, m, scores, published / 100 if published is not None else None))
    return out
