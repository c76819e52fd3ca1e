"""What an engine takes and gives back (stdlib only: importing this loads neither torch nor vLLM)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from prime_eval.backends.base import BackendError


@dataclass(frozen=True)
class Row:
    """One generation: prompt token ids, the seed of its own random stream (unused when decoding is greedy), and
    its new-token limit (rows of one call may differ: benchmarks pooled into one call have their own limits)."""

    prompt: list[int]
    seed: int
    max_tokens: int


@dataclass(frozen=True)
class Decoding:
    """Settings every row of a call shares. ``temperature == 0`` is greedy."""

    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    logprobs: bool = False  # also return each generated token's log-prob under the model (temperature 1)


@dataclass(frozen=True)
class Generated:
    """``token_ids``: the generated tokens, the end-of-sequence token included ("eos"), through the token that
    completed a stop string ("stop"), or all ``max_tokens`` of them ("length")."""

    token_ids: list[int]
    finish_reason: Literal["eos", "stop", "length"]
    logprobs: list[float] | None = None


class Engine(Protocol):
    tokenizer: Any

    def context_length(self) -> int | None:
        """Prompt and generation together, where the model says."""
        ...

    def generate(
        self, rows: Sequence[Row], decoding: Decoding, on_tokens: Any = None
    ) -> Iterator[list[tuple[int, Generated]]]:
        """Generate every row, yielding ``(row index, result)`` pairs a batch at a time as batches finish, so a
        caller can save them before the next starts. ``on_tokens(n)``, where given, hears of the tokens each
        decoding step adds, for progress. Row ``i``'s result depends on its prompt, seed and limit only, not on
        which rows share its call (up to float rounding, see ``engines/hf.py``)."""
        ...


def generate_all(engine: Engine, rows: Sequence[Row], decoding: Decoding) -> list[Generated]:
    """Every row's result, in row order."""
    out: list[Generated | None] = [None] * len(rows)
    for batch in engine.generate(rows, decoding):
        for i, generated in batch:
            out[i] = generated
    return out  # type: ignore[return-value] - the engine answers every row


def eos_token_ids(generation_config: Any, tokenizer: Any) -> list[int]:
    """Every token that ends a response. Chat models often end turns with a token other than the tokenizer's eos
    (Qwen: <|im_end|> and <|endoftext|>), listed in the checkpoint's generation config."""
    ids = getattr(generation_config, "eos_token_id", None)
    ids = [] if ids is None else [ids] if isinstance(ids, int) else list(ids)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    if not ids:
        raise BackendError("the model defines no end-of-sequence token; generation would never stop")
    return ids
