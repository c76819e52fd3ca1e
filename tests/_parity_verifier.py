"""A verifier whose verdicts a random tiny model gets right about half the time (an even number of characters), so
trainer tests have groups of mixed outcomes without a trained model. Importable by the pool's worker processes."""

from __future__ import annotations

from dataclasses import dataclass

from prime_eval.verify.base import Status, Verdict


@dataclass(frozen=True)
class ParityVerifier:
    name: str = "parity"

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "rule": "an even number of characters is correct"}

    def verify(self, response: str, reference, **meta) -> Verdict:
        even = len(response) % 2 == 0
        return Verdict(even, float(even), Status.OK, str(len(response) % 2))
