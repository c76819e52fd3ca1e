"""What every generation backend (vLLM, transformers, OpenAI-compatible server, file) provides to the runner."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from prime_common.errors import UserError

# A prompt is either chat messages ({"role": ..., "content": ...}), rendered by the model's chat template, or a
# plain string sent as is ("plain" prompt mode).
Prompt = list[dict[str, str]] | str


@dataclass(frozen=True)
class SamplingConfig:
    """Decoding settings shared by all backends. ``seed`` is the run's seed: sample ``j`` of every request is
    drawn with seed ``seed + j`` where the backend supports per-request seeds, so reruns reproduce."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 4096
    seed: int = 0
    stop: tuple[str, ...] = ()

    def __post_init__(self):
        if self.n < 1:
            raise ValueError("n must be at least 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.max_tokens < 1:
            raise ValueError("need temperature >= 0, 0 < top_p <= 1 and max_tokens >= 1")


@dataclass(frozen=True)
class Request:
    """One prompt and the sample indices still wanted for it (a resumed run asks only for the missing ones)."""

    key: str  # unique within a run, e.g. "math500/test/precalculus/807.json"
    prompt: Prompt
    samples: tuple[int, ...]  # indices among the n samples, e.g. (0, 1, 2, 3)
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. {"benchmark": "math500", "id": "..."} for `file`
    # This request's own new-token limit, where it differs from the call's SamplingConfig (the runner pools every
    # benchmark's prompts into one call, each benchmark with its own limit).
    max_tokens: int | None = None


@dataclass(frozen=True)
class Completion:
    sample: int
    text: str
    finish_reason: str  # "stop" | "length" | "error"
    tokens: int | None = None  # generated tokens, where the backend knows
    seconds: float | None = None  # wall time of the call that produced it
    error: str | None = None


# Called once per finished (request, sample) as soon as it is available, from the runner's thread or a backend's
# worker thread; the runner saves it at once, so a killed run loses at most what was in flight.
OnCompletion = Callable[[Request, Completion], None]


# Optional progress inside a long generation call: called with the number of tokens just generated. A backend
# that can report it takes ``on_tokens`` as a keyword of ``generate`` (see ``accepts_token_progress``).
OnTokens = Callable[[int], None]


class BackendError(UserError, RuntimeError):
    """A backend cannot work (missing package, server down, bad model): a message for the user, no traceback."""


@runtime_checkable
class Backend(Protocol):
    name: str

    def describe(self) -> dict[str, Any]:
        """Model identity (name or path, revision or weights hash where known) and backend settings, for results."""
        ...

    def generate(self, requests: Sequence[Request], sampling: SamplingConfig, on_completion: OnCompletion) -> None:
        """Produce every requested sample of every request, calling ``on_completion`` for each. A request's own
        ``max_tokens``, where set, replaces ``sampling.max_tokens`` for it."""
        ...

    def close(self) -> None: ...


def sample_groups(request: Request, sampling: SamplingConfig) -> list[tuple[int, ...]]:
    """The generations a request needs: one per sample index, or one for all of them under greedy decoding, where
    every index gets the same text."""
    if not request.samples:
        return []
    if sampling.temperature == 0:
        return [tuple(request.samples)]
    return [(j,) for j in request.samples]


def chat_token_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """Token ids of chat messages through the model's template. The template already holds BOS and friends, so
    no special tokens are added again (that would double BOS); every local backend tokenizes this one way."""
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def prompt_token_ids(tokenizer: Any, prompt: Prompt) -> list[int]:
    """Token ids of a prompt as every local backend and the trainer encode it: plain text with the tokenizer's own
    special tokens (BOS), as vLLM does; chat messages through the template. ValueError when that cannot work."""
    if isinstance(prompt, str):
        ids = tokenizer(prompt)["input_ids"]
    else:
        if not tokenizer.chat_template:
            raise ValueError("the model has no chat template; use plain prompts for this model")
        ids = chat_token_ids(tokenizer, prompt)
    if not ids:
        raise ValueError("the prompt is empty after tokenization")
    return list(ids)


def context_length(backend: Backend) -> int | None:
    """The most tokens (prompt and generation together) the backend's model can attend to, where it says."""
    get = getattr(backend, "context_length", None)
    return get() if callable(get) else None


def accepts_token_progress(backend: Backend) -> bool:
    import inspect

    try:
        return "on_tokens" in inspect.signature(backend.generate).parameters
    except (TypeError, ValueError):
        return False
