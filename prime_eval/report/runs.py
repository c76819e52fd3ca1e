"""The typed records a report is built from: runs (harness, training, lm-eval), their benchmark scores and the
settings those scores were made with. Scores are fractions in [0, 1] here; only rendering turns them into percent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from prime_common.errors import UserError

RunKind = Literal["harness", "training", "lm-eval"]


class ReportError(UserError):
    """A problem with the user's input (a missing folder, an unreadable file, an unknown name): one line."""


@dataclass(frozen=True)
class Metric:
    mean: float
    stderr: float | None  # None where the source gives none (lm-eval writes "N/A" for some metrics)


@dataclass(frozen=True)
class Settings:
    """How a benchmark's samples were drawn; None where the source does not say."""

    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    prompt: str | None = None  # prime's prompt mode (prime, prime_newlines, chat, plain)
    max_tokens: int | None = None

    @property
    def decoding(self) -> str | None:
        if self.temperature is None:
            return None
        return "greedy" if self.temperature == 0 else "sampled"

    def describe(self, max_tokens: bool = True) -> str:
        parts = [self.decoding or "decoding ?"]
        if self.decoding == "sampled":
            parts.append(f"T={self.temperature:g}" + (f", top_p={self.top_p:g}" if self.top_p is not None else ""))
        parts.append(f"n={self.n}" if self.n is not None else "n=?")
        parts.append(f"prompt {self.prompt or '?'}")
        if max_tokens:
            parts.append(f"max_tokens {self.max_tokens}" if self.max_tokens is not None else "max_tokens ?")
        return ", ".join(parts)


@dataclass(frozen=True)
class BenchResult:
    """One benchmark of one run: ``metrics["avg"]`` is the headline score (avg@n; plain accuracy when n = 1)."""

    name: str
    metrics: dict[str, Metric]
    num_problems: int | None
    num_samples: int | None
    settings: Settings
    full_size: int | None = None  # problems in the whole benchmark: fewer scored means a subset (--limit)
    data_sha256: str | None = None
    source_name: str | None = None  # the name in the source when it differs (an lm-eval task, prime_math500)
    metric_name: str | None = None  # the source's metric behind "avg" when it is not prime's (lm-eval: acc,none)

    @property
    def score(self) -> Metric:
        return self.metrics["avg"]

    @property
    def subset(self) -> bool:
        return self.full_size is not None and self.num_problems is not None and self.num_problems < self.full_size

    def curve(self, kind: str) -> list[tuple[int, Metric]]:
        """``pass`` or ``maj`` against k, in increasing k (empty when only k = 1 was scored)."""
        points = sorted(
            (int(name.split("@", 1)[1]), m) for name, m in self.metrics.items() if name.startswith(f"{kind}@")
        )
        return points if len(points) > 1 else []


@dataclass(frozen=True)
class Verdict:
    """One scored sample, as the compare step needs it."""

    problem_id: str
    sample: int
    correct: bool
    score: float
    answer: str | None  # the canonical key (equal for equal values)
    written: str | None = None  # the answer as the model wrote it, where the samples kept it


@dataclass(frozen=True)
class Checkpoint:
    """One evaluated checkpoint of a training run: ``eval/step-N/``, a harness run folder."""

    step: int
    path: Path
    benchmarks: dict[str, BenchResult]


@dataclass(frozen=True)
class SampleFiles:
    """Where a run's per-sample verdicts are: benchmark -> file, in prime's or lm-eval's format."""

    format: Literal["prime", "lm-eval"]
    files: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    label: str  # unique within a report
    path: Path  # what the user named
    kind: RunKind
    model: str
    benchmarks: dict[str, BenchResult]
    samples: SampleFiles
    step: int | None = None  # training runs: the checkpoint whose scores are in ``benchmarks``
    checkpoints: tuple[Checkpoint, ...] = ()  # training runs, by step
    train_log: tuple[dict[str, Any], ...] = ()  # training runs: metrics.jsonl rows
    info: dict[str, Any] = field(default_factory=dict)  # provenance worth showing (dates, versions, git)

    @property
    def title(self) -> str:
        return f"{self.label} @ step {self.step}" if self.step is not None else self.label

    def settings_summary(self) -> str:
        """The run's settings in one line; token limits per benchmark when they differ (each benchmark's default)."""
        bases = sorted({b.settings.describe(max_tokens=False) for b in self.benchmarks.values()})
        limits = {name: b.settings.max_tokens for name, b in self.benchmarks.items()}
        if len(set(limits.values())) == 1:
            value = next(iter(limits.values()))
            return "; ".join(bases) + f", max_tokens {value if value is not None else '?'}"
        return (
            "; ".join(bases)
            + ", max_tokens "
            + ", ".join(f"{n} {v if v is not None else '?'}" for n, v in limits.items())
        )

    @property
    def has_curves(self) -> bool:
        return any(b.curve("pass") or b.curve("maj") for b in self.benchmarks.values())
