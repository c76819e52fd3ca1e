"""vLLM offline backend, written against vLLM's documented API only: ``vllm.LLM``, ``LLM.get_tokenizer``,
``LLM.generate`` with one ``SamplingParams`` per prompt, and ``RequestOutput.outputs``. No engine internals, so vLLM
upgrades (cf. trl #3115) do not break it.

Each (request, sample) is its own prompt with ``SamplingParams(n=1, seed=sampling.seed + j)``: vLLM seeds a
generator per request, so sample j is reproducible and a resumed run can ask for only the missing indices.

Prompts are tokenized here, by the function the HF backend uses, so both backends feed the model the same ids.
Long prompts follow the harness's context rule, as the HF backend does: generation stops at the engine's context
(``max_model_len``; the runner already caps ``max_tokens`` at it), so a prompt leaving less than ``max_tokens`` of
it gets that much less room, and a prompt filling it gets an empty truncated response ("length", 0 tokens) without
reaching vLLM, which would otherwise reject the whole batch. Prompts are never cut.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prime_eval.backends._deps import import_optional
from prime_eval.backends.base import (
    BackendError,
    Completion,
    OnCompletion,
    Request,
    SamplingConfig,
    prompt_token_ids,
    sample_groups,
)


def _vllm() -> Any:
    # Imported on use, not at module import, so tests can put a fake module in sys.modules.
    return import_optional("vllm", "vllm", "vllm")


@dataclass(frozen=True)
class _Job:
    request: Request
    samples: tuple[int, ...]  # several when decoding is greedy: one generation serves them all
    prompt: dict[str, Any]  # vLLM prompt: {"prompt_token_ids": [...]}


class VLLMBackend:
    name = "vllm"

    def __init__(
        self,
        model: str,
        *,
        revision: str | None = None,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        seed: int = 0,
        trust_remote_code: bool = False,
        chunk_size: int = 1024,
    ):
        vllm = _vllm()
        self.model = model
        self.settings = {
            "revision": revision,
            "tensor_parallel_size": tensor_parallel_size,
            "dtype": dtype,
            "gpu_memory_utilization": gpu_memory_utilization,
            "max_model_len": max_model_len,
            "seed": seed,
            "trust_remote_code": trust_remote_code,
        }
        # Prompts go to LLM.generate in chunks of this many generations: the runner saves each chunk as it ends, so
        # a kill loses at most one chunk; bigger chunks keep the GPU busier (fewer chunk tails).
        self.chunk_size = chunk_size
        self.vllm_version = getattr(vllm, "__version__", "unknown")
        try:
            self.llm = vllm.LLM(model=model, **self.settings)
        except (OSError, ValueError) as exc:
            raise BackendError(f"vLLM cannot load {model!r}: {exc}") from exc
        self.tokenizer = self.llm.get_tokenizer()
        # What the engine resolved ("auto" dtype, the model's own context length when none was given).
        self.max_model_len = int(self.llm.model_config.max_model_len)
        self.engine = {
            "max_model_len": self.max_model_len,
            "dtype": str(self.llm.model_config.dtype).removeprefix("torch."),
            # The CPU build's KV cache size in GiB; its default (a share of RAM) changes start-up time, not results.
            "cpu_kvcache_space_gib": os.environ.get("VLLM_CPU_KVCACHE_SPACE"),
        }

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model,
            **self.settings,
            "engine": self.engine,
            "vllm": self.vllm_version,
        }

    def context_length(self) -> int:
        """Prompt and generation together: the engine's ``max_model_len``."""
        return self.max_model_len

    def sampling_params(self, sampling: SamplingConfig, sample: int, prompt_tokens: int = 0) -> Any:
        """The ``SamplingParams`` of sample ``sample``: its own seed, nothing left to vLLM's or the model's defaults,
        at most the context's room after a prompt of ``prompt_tokens``."""
        return _vllm().SamplingParams(
            n=1,
            seed=sampling.seed + sample,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=min(sampling.max_tokens, self.max_model_len - prompt_tokens),
            stop=list(sampling.stop) or None,
        )

    def generate(self, requests: Sequence[Request], sampling: SamplingConfig, on_completion: OnCompletion) -> None:
        jobs: list[_Job] = []
        for request in requests:
            groups = sample_groups(request, sampling)
            if not groups:
                continue
            ids = self._encode(request)
            if len(ids) >= self.max_model_len:  # no room for a single token
                for j in (j for g in groups for j in g):
                    on_completion(request, Completion(j, "", "length", 0, 0.0))
                continue
            jobs.extend(_Job(request, g, {"prompt_token_ids": ids}) for g in groups)
        for start in range(0, len(jobs), self.chunk_size):
            chunk = jobs[start : start + self.chunk_size]
            params = [
                self.sampling_params(sampling, job.samples[0], len(job.prompt["prompt_token_ids"])) for job in chunk
            ]
            t0 = time.perf_counter()
            outputs = self.llm.generate([job.prompt for job in chunk], params, use_tqdm=False)
            seconds = time.perf_counter() - t0
            for job, output in zip(chunk, outputs):
                best = output.outputs[0]
                finish = "length" if best.finish_reason == "length" else "stop"
                for j in job.samples:
                    on_completion(job.request, Completion(j, best.text, finish, len(best.token_ids), seconds))

    def close(self) -> None:
        self.llm = None  # frees the engine once nothing else holds it

    def _encode(self, request: Request) -> list[int]:
        try:
            return prompt_token_ids(self.tokenizer, request.prompt)
        except ValueError as exc:
            raise BackendError(f"{self.model!r}, prompt of {request.key!r}: {exc}") from None
