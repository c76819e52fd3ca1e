"""Published reference scores (``reference_scores.yaml``), with their source and the settings they were made with,
for reports that put runs beside them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REFERENCES = Path(__file__).with_name("reference_scores.yaml")


@dataclass(frozen=True)
class ReferenceSet:
    name: str
    source: str
    settings: dict[str, Any]
    average_of: tuple[str, ...]
    models: dict[str, dict[str, float]]
    inconsistent_averages: tuple[str, ...] = ()  # models whose published "avg" is not the mean of their row

    def average(self, model: str) -> float | None:
        """The set's own unweighted average over ``average_of``, recomputed (the published "avg" is kept as is)."""
        scores = self.models[model]
        if not self.average_of or any(b not in scores for b in self.average_of):
            return None
        return sum(scores[b] for b in self.average_of) / len(self.average_of)


@cache
def reference_sets() -> dict[str, ReferenceSet]:
    raw = yaml.safe_load(REFERENCES.read_text())
    return {
        name: ReferenceSet(
            name,
            s["source"],
            s["settings"],
            tuple(s.get("average_of", ())),
            s["models"],
            tuple(s.get("inconsistent_averages", ())),
        )  # fmt: skip
        for name, s in raw.items()
    }
