"""The bandit sanity test's verifier: a response is right when its text is exactly one of the gold answers (a
list of token texts). Importable by the verification pool's worker processes."""

from __future__ import annotations

from dataclasses import dataclass

from prime_eval.verify.base import Status, Verdict


@dataclass(frozen=True)
class OneOfVerifier:
    name: str = "exact"

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "rule": "the response is one of the gold texts"}

    def verify(self, response: str, reference, **meta) -> Verdict:
        right = response in reference
        return Verdict(right, float(right), Status.OK, response)
