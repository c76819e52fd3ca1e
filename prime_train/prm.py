"""The implicit PRM's part of a step: token scores q for every rollout and the online cross-entropy (or DPO) update
from outcome labels, in the order the config names (docs/algorithm.md §prm-update-order).

``update="after"`` is the reference run's "single forward": PRM mini-batches in order, each forward giving both
the (detached) token scores and the loss, then an optimizer step, so mini-batch k is scored by the PRM after k-1
updates of this step. ``"before"`` updates on every mini-batch first, then scores the batch with the updated PRM
(the veRL recipe's default). ``"none"`` scores with a frozen PRM.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from prime_eval.rewards.token_rewards import implicit_process_rewards, token_logprobs

from .algorithms import normalize_process_rewards, prm_ce_loss, prm_dpo_loss, prm_pairwise_accuracy
from .batch import TokenBatch, batched_logprobs, micro_batches
from .config import PRMConfig
from .strategy import TrainEngine


@dataclass
class PRMOutput:
    q: torch.Tensor  # [B, T] raw token scores (log-ratio), detached
    rewards: torch.Tensor  # [B, T] the process rewards the advantages use (granularity and normalisation applied)
    metrics: dict[str, float]


def _loss(cfg: PRMConfig, q: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    if cfg.loss == "dpo":
        return prm_dpo_loss(q, mask, labels, group_size=k, beta=cfg.beta)
    return prm_ce_loss(q, mask, labels, beta=cfg.beta)


def _update(
    engine: TrainEngine, cfg: PRMConfig, batch: TokenBatch, ref_logp: torch.Tensor, k: int, device: torch.device
) -> tuple[torch.Tensor, list[float], list[float]]:
    """One pass over the batch in mini-batch order: forward, loss, backward, step. Returns the q of each row as
    its forward computed it (before that mini-batch's step), the micro-batch losses and the step grad norms."""
    q_all = torch.zeros(batch.input_ids.shape, dtype=torch.float32)
    losses, norms = [], []
    engine.train()
    for rows in micro_batches(torch.arange(batch.size), cfg.micro_batch_size):
        sub = batch.rows(rows)
        mask = sub.response_mask.to(device)
        logp = token_logprobs(engine, sub.input_ids.to(device), sub.attention_mask.to(device))
        q = implicit_process_rewards(logp.float(), ref_logp[rows, : logp.shape[1]].to(device), mask)
        loss = _loss(cfg, q, mask, sub.scores.to(device), k)
        engine.backward(loss)
        if engine.step():
            norm = engine.grad_norm()
            if norm is not None:
                norms.append(norm)
        q_all[rows, : q.shape[1]] = q.detach().float().cpu()
        losses.append(float(loss.detach()))
    return q_all, losses, norms


def prm_step(
    engine: TrainEngine, cfg: PRMConfig, batch: TokenBatch, ref_logp: torch.Tensor, k: int, device: torch.device
) -> PRMOutput:
    """Scores and (per ``cfg.update``) trains the PRM on this process's rows; ``ref_logp`` from the frozen reference."""
    metrics: dict[str, float] = {}
    mask = batch.response_mask
    if cfg.update == "after":
        q, losses, norms = _update(engine, cfg, batch, ref_logp, k, device)
    else:
        losses, norms = [], []
        if cfg.update == "before":
            _, losses, norms = _update(engine, cfg, batch, ref_logp, k, device)
        engine.eval()
        logp = batched_logprobs(engine, batch, cfg.micro_batch_size, device)
        engine.train()
        q = implicit_process_rewards(logp, ref_logp, mask)
    if losses:
        metrics["prm/loss"] = sum(losses) / len(losses)
    if norms:
        metrics["prm/grad_norm"] = sum(norms) / len(norms)
    # The reference logs this on the q the rewards come from ("dpo_acc_before" in the single-forward order).
    metrics["prm/pairwise_acc"] = float(prm_pairwise_accuracy(q, mask, batch.scores, group_size=k))
    with torch.no_grad():
        implied = torch.sigmoid(cfg.beta * q.sum(dim=1))
        metrics["prm/outcome_acc"] = float(((implied > 0.5).float() == (batch.scores > 0.5).float()).float().mean())
    rewards = implicit_process_rewards(q, None, mask, granularity=cfg.granularity)
    if cfg.norm == "batch_norm":
        # Per process, as the reference normalises per data-parallel shard (§implicit-reward).
        rewards = normalize_process_rewards(rewards, mask)
    return PRMOutput(q, rewards, metrics)
