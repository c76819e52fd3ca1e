"""vLLM offline backend: ``prime_eval.engines.vllm.VLLMEngine`` (the engine the trainer's vLLM rollouts use too)
behind the harness's requests. Sample j of a request is its own row seeded ``sampling.seed + j``, so a resumed run
can ask for only the missing indices; the context rule is the hf backend's (``backends/local.py``)."""

from __future__ import annotations

import os
from typing import Any

from prime_eval.backends.local import EngineBackend
from prime_eval.engines.vllm import VLLMEngine


class VLLMBackend(EngineBackend):
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
        self.model_name = model
        self.settings = {
            "revision": revision,
            "tensor_parallel_size": tensor_parallel_size,
            "dtype": dtype,
            "gpu_memory_utilization": gpu_memory_utilization,
            "max_model_len": max_model_len,
            "seed": seed,
            "trust_remote_code": trust_remote_code,
        }
        self.engine = VLLMEngine(model, chunk_size=chunk_size, **self.settings)
        self.vllm_version = self.engine.version
        self.resolved = {  # what the engine made of "auto" and of no max_model_len
            "max_model_len": self.engine.max_model_len,
            "dtype": str(self.engine.llm.model_config.dtype).removeprefix("torch."),
            # The CPU build's KV cache size in GiB; its default (a share of RAM) changes start-up time, not results.
            "cpu_kvcache_space_gib": os.environ.get("VLLM_CPU_KVCACHE_SPACE"),
        }

    @property
    def llm(self) -> Any:
        return self.engine.llm

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model_name, **self.settings, "engine": self.resolved,
                "vllm": self.vllm_version}  # fmt: skip
