"""Outcome rewards: rollouts scored by the shared verifier (the one ``prime-eval`` scores benchmarks with), in the
background so that generation of the next chunk goes on meanwhile; then the accuracy filter over prompt groups."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import torch

from prime_common.registry import UnknownName
from prime_eval.verify import get_verifier, verify_batch
from prime_eval.verify.extract import ExtractionConfig

from .algorithms import accuracy_filter
from .config import ConfigError, RolloutConfig


def make_verifier(spec: str, extraction_profile: str = "default"):
    """``math`` (with the named extraction profile), ``code``, or ``module:Class`` (a picklable Verifier built with
    no arguments)."""
    settings = {"extraction": ExtractionConfig.named(extraction_profile)} if spec == "math" else {}
    try:
        return get_verifier(spec, **settings)
    except UnknownName as exc:
        raise ConfigError(f"data.verifier: {exc}") from None


@dataclass
class Group:
    """The K rollouts of one prompt, everything later phases need (small and picklable: it crosses processes)."""

    prompt_id: str
    prompt_ids: list[int]
    response_ids: list[list[int]]
    truncated: list[bool]
    texts: list[str]
    scores: list[float] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return sum(self.scores) / len(self.scores)


class BackgroundVerifier:
    """Submits verification of each generated chunk and returns at once; ``wait`` collects the scores."""

    def __init__(self, verifier: Any, cfg: RolloutConfig):
        self.verifier = verifier
        self.cfg = cfg
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prime-verify")
        self.pending: list[tuple[list[Group], Future]] = []

    def submit(self, groups: list[Group], references: list[Any]) -> None:
        texts = [t for g in groups for t in g.texts]
        refs = [ref for g, ref in zip(groups, references) for _ in g.texts]
        future = self.executor.submit(
            verify_batch,
            self.verifier,
            texts,
            refs,
            workers=self.cfg.verify_workers,
            timeout_s=self.cfg.verify_timeout_s,
            progress=False,
        )
        self.pending.append((groups, future))

    def wait(self) -> None:
        for groups, future in self.pending:
            verdicts = iter(future.result())
            for g in groups:
                g.scores = [float(next(verdicts).score) for _ in g.texts]
        self.pending.clear()

    def close(self) -> None:
        self.executor.shutdown(wait=True)


def keeps(group: Group, cfg: RolloutConfig) -> bool:
    """docs/algorithm.md §accuracy-filter: accuracy band (inclusive, as the reference) and, if asked, truncation."""
    if cfg.filter_truncated and any(group.truncated):
        return False
    if cfg.filter_low is None:
        return True
    scores = torch.tensor(group.scores)
    return bool(accuracy_filter(scores, len(group.scores), cfg.filter_low, cfg.filter_high)[0])


def distance_to_band(group: Group, cfg: RolloutConfig) -> float:
    """How far a rejected group's accuracy is from the band: the closest fill a short batch first."""
    if cfg.filter_low is None:
        return 0.0
    return max(cfg.filter_low - group.accuracy, group.accuracy - cfg.filter_high, 0.0)
