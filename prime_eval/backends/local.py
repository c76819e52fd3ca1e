"""What the hf and vllm backends share: requests -> prompt token ids -> an engine (``prime_eval.engines``) -> text.

Prompts are tokenized here, one way for both backends (``prompt_token_ids``), so both feed the model the same ids.
Long prompts follow the harness's context rule: generation stops at the model's context (the runner already caps
``max_tokens`` at it), so a prompt leaving less than ``max_tokens`` of it gets that much less room, and a prompt
filling it gets an empty truncated response ("length", 0 tokens) without reaching the engine. Prompts are never cut.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from prime_eval.backends.base import (
    BackendError,
    Completion,
    OnCompletion,
    OnTokens,
    Request,
    SamplingConfig,
    prompt_token_ids,
    sample_groups,
)
from prime_eval.engines.base import Decoding, Engine, Generated, Row


class EngineBackend:
    """A backend over an ``Engine``: one row per generation (one per sample, or one for all samples when greedy)."""

    name: str
    model_name: str
    engine: Engine

    @property
    def tokenizer(self) -> Any:
        return self.engine.tokenizer

    def context_length(self) -> int | None:
        return self.engine.context_length()

    def generate(
        self,
        requests: Sequence[Request],
        sampling: SamplingConfig,
        on_completion: OnCompletion,
        on_tokens: OnTokens | None = None,
    ) -> None:
        context = self.context_length() or math.inf
        jobs: list[tuple[Request, tuple[int, ...]]] = []
        rows: list[Row] = []
        for request in requests:
            groups = sample_groups(request, sampling)
            if not groups:
                continue
            ids = self._encode(request)
            room = min(request.max_tokens or sampling.max_tokens, context - len(ids))
            if room < 1:  # no room for a single token
                for j in (j for g in groups for j in g):
                    on_completion(request, Completion(j, "", "length", 0, 0.0))
                continue
            jobs.extend((request, g) for g in groups)
            rows.extend(Row(ids, sampling.seed + g[0], int(room)) for g in groups)
        decoding = Decoding(sampling.temperature, sampling.top_p, sampling.stop)
        t0 = time.perf_counter()
        for batch in self.engine.generate(rows, decoding, on_tokens):
            seconds = time.perf_counter() - t0
            for i, generated in batch:
                request, samples = jobs[i]
                text = self._text(generated, sampling.stop)
                finish = "length" if generated.finish_reason == "length" else "stop"
                for j in samples:
                    on_completion(request, Completion(j, text, finish, len(generated.token_ids), seconds))
            t0 = time.perf_counter()

    def close(self) -> None:
        self.engine = None  # type: ignore[assignment] - frees the model once nothing else holds it

    def _text(self, generated: Generated, stop: tuple[str, ...]) -> str:
        """The response: without its end-of-sequence token, cut before the first stop string."""
        ids = generated.token_ids[:-1] if generated.finish_reason == "eos" else generated.token_ids
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        cuts = [i for i in (text.find(s) for s in stop) if i >= 0]
        return text[: min(cuts)] if cuts else text

    def _encode(self, request: Request) -> list[int]:
        try:
            return prompt_token_ids(self.tokenizer, request.prompt)
        except ValueError as exc:
            raise BackendError(f"{self.model_name!r}, prompt of {request.key!r}: {exc}") from None
