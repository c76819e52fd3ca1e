"""Training prompts: where they come from, in which order, and how far a run has got (for exact resumption)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prime_common.jsonl import read_jsonl

from .config import ConfigError, DataConfig


@dataclass(frozen=True)
class PromptItem:
    id: str
    question: str
    gold: Any  # a gold answer (math) or the tests (code): whatever the verifier takes as reference
    meta: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, str]] | None = None  # the row's own chat prompt, sent as is


def _is_message(m: Any) -> bool:
    return isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)


def _from_jsonl(cfg: DataConfig) -> list[PromptItem]:
    path = Path(cfg.path)  # type: ignore[arg-type]
    if not path.is_file():
        raise ConfigError(f"data.path {path}: no such file")
    try:
        rows = read_jsonl(path)
    except ValueError as exc:  # a line that is no JSON object, or a damaged .gz: named by path and line
        raise ConfigError(str(exc)) from None
    items = []
    for number, row in enumerate(rows, 1):
        wanted = (cfg.messages_field or cfg.question_field, cfg.gold_field)
        missing = [f for f in wanted if f not in row]
        if missing:
            raise ConfigError(f"{path}: row {number}: missing field(s) {', '.join(missing)}")
        messages = None
        if cfg.messages_field:
            messages = row[cfg.messages_field]
            if not (isinstance(messages, list) and messages and all(_is_message(m) for m in messages)):
                raise ConfigError(
                    f"{path}: row {number}: {cfg.messages_field} must be a list of {{role, content}} messages"
                )
            question = messages[-1]["content"]
        else:
            question = row[cfg.question_field]
        items.append(PromptItem(str(row.get("id", number)), question, row[cfg.gold_field], row, messages))
    if not items:
        raise ConfigError(f"data.path {path}: no rows")
    return items


def _from_benchmark(cfg: DataConfig) -> tuple[list[PromptItem], str]:
    from benchmarks.loading import load_benchmark
    from benchmarks.registry import UnknownBenchmark, get_benchmark

    try:
        definition = get_benchmark(cfg.benchmark)  # type: ignore[arg-type]
    except UnknownBenchmark as exc:
        raise ConfigError(f"data.benchmark: {exc}") from None
    if definition.data.generator:
        loaded = load_benchmark(definition, split=cfg.split, size=cfg.size)
    elif cfg.split != definition.data.split:
        raise ConfigError(
            f"data.benchmark {definition.name} has only its {definition.data.split!r} split; set data.split: "
            f"{definition.data.split} to train on it anyway (evaluation on {definition.name} is then contaminated)"
        )
    else:
        loaded = load_benchmark(definition)  # a DataError is a UserError: prime-train's main reports it
    items = [PromptItem(p.id, p.question, p.reference, dict(p.meta)) for p in loaded.problems]
    return items, definition.prompt


def load_prompts(cfg: DataConfig) -> tuple[list[PromptItem], str]:
    """The training prompts and their prompt kind ("math" or "code"), at most ``cfg.limit`` of them."""
    if cfg.path:
        items, kind = _from_jsonl(cfg), ("code" if cfg.verifier == "code" else "math")
    elif cfg.benchmark:
        items, kind = _from_benchmark(cfg)
    else:
        raise ConfigError("set data.benchmark (a registry name) or data.path (a JSONL file)")
    return (items[: cfg.limit] if cfg.limit else items), kind


class PromptSource:
    """Prompts in a seeded order, epoch after epoch, plus a buffer of prompts handed back to be drawn first
    (the reference trainer regenerates the surplus prompts of a step at the next one). ``state()`` is JSON."""

    def __init__(self, items: list[PromptItem], seed: int, epochs: int):
        if epochs < 1:
            raise ConfigError("data.epochs must be at least 1")
        self.items = items
        self.by_id = {item.id: item for item in items}
        if len(self.by_id) != len(items):
            raise ConfigError("training prompt ids must be unique")
        self.seed = seed
        self.epochs = epochs
        self.epoch = 0
        self.cursor = 0
        self.buffer: list[str] = []
        self._order = self._order_of(0)

    def _order_of(self, epoch: int) -> list[str]:
        ids = [item.id for item in self.items]
        random.Random(f"{self.seed}:{epoch}").shuffle(ids)
        return ids

    def take(self, n: int) -> list[PromptItem]:
        """Up to ``n`` prompts: buffered ones first, then the data order; fewer only when the data is exhausted."""
        out = [self.by_id[i] for i in self.buffer[:n]]
        self.buffer = self.buffer[n:]
        while len(out) < n and self.epoch < self.epochs:
            if self.cursor >= len(self._order):
                self.epoch += 1
                self.cursor = 0
                if self.epoch >= self.epochs:
                    break
                self._order = self._order_of(self.epoch)
            take = self._order[self.cursor : self.cursor + n - len(out)]
            self.cursor += len(take)
            out.extend(self.by_id[i] for i in take)
        return out

    def give_back(self, items: list[PromptItem]) -> None:
        self.buffer = [item.id for item in items] + self.buffer

    def state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "cursor": self.cursor, "buffer": list(self.buffer), "seed": self.seed}

    def load_state(self, state: dict[str, Any]) -> None:
        if state["seed"] != self.seed:
            raise ConfigError(f"the checkpoint was trained with seed {state['seed']}, this run has {self.seed}")
        unknown = [i for i in state["buffer"] if i not in self.by_id]
        if unknown:
            raise ConfigError(f"the checkpoint's prompt buffer names prompts not in this data: {unknown[:3]}")
        self.epoch, self.cursor, self.buffer = state["epoch"], state["cursor"], list(state["buffer"])
        self._order = self._order_of(self.epoch)
