"""vLLM engine, written against vLLM's documented API only: ``vllm.LLM``, ``LLM.get_tokenizer``, ``LLM.generate``
with one ``SamplingParams`` per prompt, and ``RequestOutput.outputs``. No engine internals, so vLLM upgrades (cf.
trl #3115) do not break it.

Each row is its own prompt with ``SamplingParams(n=1, seed=row.seed)``: vLLM seeds a generator per request, so a
row is reproducible whichever rows share its call (``n=k`` with seed ``s`` is the same as k rows seeded s..s+k-1).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from prime_eval.backends._deps import import_optional
from prime_eval.backends.base import BackendError, OnTokens
from prime_eval.engines.base import Decoding, Generated, Row


def _vllm() -> Any:
    # Imported on use, not at module import, so tests can put a fake module in sys.modules.
    return import_optional("vllm", "vllm", "vllm")


class VLLMEngine:
    """``vllm.LLM(model, **options)``; rows go to ``LLM.generate`` ``chunk_size`` at a time (a caller saves each
    chunk as it ends, so a kill loses at most one; bigger chunks keep the GPU busier)."""

    def __init__(self, model: str, *, chunk_size: int = 1024, **options: Any):
        vllm = _vllm()
        self.version = getattr(vllm, "__version__", "unknown")
        self.chunk_size = chunk_size
        try:
            self.llm = vllm.LLM(model=model, **options)
        except (OSError, ValueError) as exc:
            raise BackendError(f"vLLM cannot load {model!r}: {exc}") from exc
        self.tokenizer = self.llm.get_tokenizer()
        # What the engine resolved: the model's own context length when none was given.
        self.max_model_len = int(self.llm.model_config.max_model_len)

    def context_length(self) -> int:
        """Prompt and generation together: the engine's ``max_model_len``."""
        return self.max_model_len

    def sampling_params(self, row: Row, decoding: Decoding) -> Any:
        """A row's ``SamplingParams``: its own seed and limit, nothing left to vLLM's or the model's defaults."""
        extra = {"logprobs": 0} if decoding.logprobs else {}  # 0: the sampled token's own log-prob only
        return _vllm().SamplingParams(n=1, seed=row.seed, temperature=decoding.temperature, top_p=decoding.top_p,
                                      max_tokens=row.max_tokens, stop=list(decoding.stop) or None, **extra)  # fmt: skip

    def generate(
        self, rows: Sequence[Row], decoding: Decoding, on_tokens: OnTokens | None = None
    ) -> Iterator[list[tuple[int, Generated]]]:
        for start in range(0, len(rows), self.chunk_size):
            chunk = rows[start : start + self.chunk_size]
            params = [self.sampling_params(row, decoding) for row in chunk]
            outputs = self.llm.generate([{"prompt_token_ids": row.prompt} for row in chunk], params, use_tqdm=False)
            yield [(start + i, _generated(output.outputs[0], decoding)) for i, output in enumerate(outputs)]


def _generated(output: Any, decoding: Decoding) -> Generated:
    ids = list(output.token_ids)
    if output.finish_reason == "length":
        finish = "length"
    else:  # stop_reason: the stop string that matched, None at an end-of-sequence token
        finish = "stop" if isinstance(getattr(output, "stop_reason", None), str) else "eos"
    logprobs = [step[t].logprob for step, t in zip(output.logprobs, ids)] if decoding.logprobs else None
    return Generated(ids, finish, logprobs)
