"""The step's rollouts as ``[batch, tokens]`` tensors: prompt + response ids, attention and response masks, and
per-response scores; plus slicing into micro-batches and batched log-prob forwards."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from prime_eval.rewards.token_rewards import token_logprobs


@dataclass
class TokenBatch:
    input_ids: torch.Tensor  # [B, T], right-padded
    attention_mask: torch.Tensor  # [B, T]
    response_mask: torch.Tensor  # [B, T]: 1 on response tokens (position aligned with log-probs)
    scores: torch.Tensor  # [B]: verifier scores

    @property
    def size(self) -> int:
        return self.input_ids.shape[0]

    def rows(self, index: torch.Tensor | slice) -> TokenBatch:
        """A sub-batch, trimmed to its longest row (micro-batches of short responses do not pay for long ones)."""
        attention = self.attention_mask[index]
        width = int(attention.sum(dim=1).max().item()) if attention.numel() else 0
        return TokenBatch(
            self.input_ids[index][:, :width],
            attention[:, :width],
            self.response_mask[index][:, :width],
            self.scores[index],
        )


def build_batch(
    prompts: Sequence[list[int]], responses: Sequence[list[int]], scores: Sequence[float], pad_id: int
) -> TokenBatch:
    if not (len(prompts) == len(responses) == len(scores)):
        raise ValueError("prompts, responses and scores must have one entry per row")
    width = max(len(p) + len(r) for p, r in zip(prompts, responses))
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    attention = torch.zeros_like(ids)
    response = torch.zeros_like(ids)
    for i, (p, r) in enumerate(zip(prompts, responses)):
        ids[i, : len(p) + len(r)] = torch.tensor(p + r)
        attention[i, : len(p) + len(r)] = 1
        response[i, len(p) : len(p) + len(r)] = 1
    return TokenBatch(ids, attention, response, torch.tensor(scores, dtype=torch.float32))


def micro_batches(rows: torch.Tensor, size: int) -> Iterator[torch.Tensor]:
    for start in range(0, rows.numel(), size):
        yield rows[start : start + size]


def batched_logprobs(model, batch: TokenBatch, micro_batch_size: int, device: torch.device) -> torch.Tensor:
    """Position-aligned log-probs [B, T] of the whole batch without gradients, ``micro_batch_size`` rows at a time."""
    out = torch.zeros(batch.input_ids.shape, dtype=torch.float32)
    with torch.no_grad():
        for rows in micro_batches(torch.arange(batch.size), micro_batch_size):
            sub = batch.rows(rows)
            logp = token_logprobs(model, sub.input_ids.to(device), sub.attention_mask.to(device))
            out[rows, : logp.shape[1]] = logp.float().cpu()
    return out
