"""The implicit PRM's token reward, as pure tensor functions shared by the reward-model bench and the trainer.

``prime_train.algorithms`` re-exports :func:`implicit_process_rewards` from here, so Best-of-N scoring and PRIME
training compute the reward with the same code (see docs/algorithm.md §implicit-reward).

Log-probabilities are *position aligned*: ``out[:, t] = log p(ids[:, t] | ids[:, :t])`` for t >= 1 and 0 at t = 0,
so a response mask over input positions selects response tokens directly, with no off-by-one shift at call sites.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F


def logprobs_from_logits(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Position-aligned log-probs of ``ids`` [B, T] under next-token ``logits`` [B, T, V] (logits[:, t] predicts
    ids[:, t + 1]). Computed in float32 as gather minus logsumexp, which avoids materialising a second [B, T, V]
    log-softmax tensor."""
    logits = logits[:, :-1].float()
    target = ids[:, 1:].unsqueeze(-1)
    picked = logits.gather(-1, target).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    return F.pad(picked, (1, 0))


def token_logprobs(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Position-aligned log-probs [B, T] of ``input_ids`` under a causal LM (anything returning ``.logits``).

    Gradients flow when the caller has them enabled: the trainer differentiates through this for the policy and
    the PRM; scoring wraps it in ``torch.no_grad()``. Padding may sit on either side: positions are taken from the
    attention mask so left padding does not shift rotary or learned position ids.
    """
    position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False)
    return logprobs_from_logits(out.logits, input_ids)


def _last_valid(valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of each row's last valid token, and whether the row has any valid token."""
    pos = torch.arange(valid.shape[1], device=valid.device).expand_as(valid)
    return torch.where(valid, pos, -1).max(dim=1).values.clamp(min=0), valid.any(dim=1)


def implicit_process_rewards(
    logp_prm: torch.Tensor,
    logp_ref: torch.Tensor | None,
    mask: torch.Tensor,
    granularity: Literal["token", "whole"] = "token",
) -> torch.Tensor:
    """Implicit-PRM token scores ``q = logp_prm - logp_ref`` on valid tokens, 0 elsewhere (§implicit-reward).

    ``logp_ref=None`` is the "w/o ref" variant (q = logp_prm). No beta is applied: the reference code uses raw q as
    the reward, batch normalisation cancels any scale, and scorers multiply by their own coefficient.
    ``granularity="whole"`` puts the row's sum of q on its last valid token (§implicit-reward, ``prime_granularity``).
    Gradients flow to ``logp_prm`` (the PRM loss is built on q); detach before using q as a reward.
    """
    if mask.dim() != 2:
        raise ValueError(f"mask must be [batch, tokens], got shape {tuple(mask.shape)}")
    tensors = {"logp_prm": logp_prm} if logp_ref is None else {"logp_prm": logp_prm, "logp_ref": logp_ref}
    for name, t in tensors.items():
        if t.shape != mask.shape:
            raise ValueError(f"{name} has shape {tuple(t.shape)}, expected the mask's {tuple(mask.shape)}")
    valid = mask != 0
    diff = logp_prm if logp_ref is None else logp_prm - logp_ref
    q = torch.where(valid, diff, torch.zeros_like(logp_prm))
    if granularity == "token":
        return q
    if granularity != "whole":
        raise ValueError(f"granularity must be 'token' or 'whole', got {granularity!r}")
    last, nonempty = _last_valid(valid)
    onehot = F.one_hot(last, q.shape[1]).to(q.dtype) * nonempty.unsqueeze(1).to(q.dtype)
    return onehot * q.sum(dim=1, keepdim=True)
