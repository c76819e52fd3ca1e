"""A deterministic backend for runner tests: answers from a table, optionally slowly, logging every call."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from prime_eval.backends.base import Completion, Request, SamplingConfig


@dataclass
class FakeBackend:
    answers: dict[str, str]  # problem id -> response for every sample; a missing id answers "no idea"
    log: Path | None = None  # one line per generated sample, to count what was (re)generated
    delay_s: float = 0.0
    name: str = "fake"
    calls: list[tuple[str, int]] = field(default_factory=list)

    def describe(self) -> dict:
        return {"name": "fake", "model": "fake-model"}

    def generate(self, requests: list[Request], sampling: SamplingConfig, on_completion) -> None:
        for request in requests:
            for j in request.samples:
                time.sleep(self.delay_s)
                text = self.answers.get(request.meta["id"], "no idea")
                if isinstance(text, list):
                    text = text[j % len(text)]
                self.calls.append((request.key, j))
                if self.log is not None:
                    with self.log.open("a") as f:
                        f.write(json.dumps([request.key, j]) + "\n")
                on_completion(request, Completion(j, text, "stop", tokens=3, seconds=0.0))

    def close(self) -> None:
        pass
