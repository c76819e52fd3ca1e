"""The policy update: PPO's clipped surrogate over shuffled mini-batches of rollouts (docs/algorithm.md §ppo-loss)."""

from __future__ import annotations

import torch

from prime_eval.rewards.token_rewards import token_logprobs

from .algorithms import ppo_clip_loss
from .batch import TokenBatch, micro_batches
from .strategy import TrainEngine


def ppo_update(
    engine: TrainEngine,
    batch: TokenBatch,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    *,
    clip_eps: float,
    epochs: int,
    micro_batch_size: int,
    seed: int,
    device: torch.device,
) -> dict[str, float]:
    """``epochs`` passes over the rows in a seeded shuffled order; DeepSpeed steps the optimizer every
    mini-batch (its gradient-accumulation boundary). Returns mean loss, clip fraction and grad norm."""
    losses, clips, norms = [], [], []
    generator = torch.Generator().manual_seed(seed)
    engine.train()
    for _ in range(epochs):
        order = torch.randperm(batch.size, generator=generator)
        for rows in micro_batches(order, micro_batch_size):
            sub = batch.rows(rows)
            width = sub.input_ids.shape[1]
            mask = sub.response_mask.to(device)
            logp = token_logprobs(engine, sub.input_ids.to(device), sub.attention_mask.to(device)).float()
            loss, clip = ppo_clip_loss(
                logp, old_logp[rows, :width].to(device), advantages[rows, :width].to(device), mask, clip_eps=clip_eps
            )
            engine.backward(loss)
            if engine.step():
                norm = engine.grad_norm()
                if norm is not None:
                    norms.append(norm)
            losses.append(float(loss.detach()))
            clips.append(float(clip))
    metrics = {"policy/loss": sum(losses) / len(losses), "policy/clip_fraction": sum(clips) / len(clips)}
    if norms:
        metrics["policy/grad_norm"] = sum(norms) / len(norms)
    return metrics
