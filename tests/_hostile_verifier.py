"""A verifier that misbehaves on request, to test the pool's limits (importable by worker processes)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from prime_eval.verify.base import Status, Verdict


@dataclass(frozen=True)
class HostileVerifier:
    name: str = "hostile"

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "rule": "misbehaves when the response names how"}

    def verify(self, response: str, reference, **meta) -> Verdict:
        if response == "spin":
            while True:
                pass
        if response == "sleep":
            time.sleep(3600)
        if response == "exit":
            os._exit(3)
        if response == "memory":
            blocks = []
            while True:
                blocks.append(bytearray(64 * 1024 * 1024))
        if response == "raise":
            raise RuntimeError("verifier bug")
        return Verdict(response == reference, float(response == reference), Status.OK, response, {"pid": os.getpid()})
