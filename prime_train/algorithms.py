"""PRIME's algorithm as pure tensor functions (docs/algorithm.md; "§" below cites its sections).

Conventions: per-token tensors are ``[batch, tokens]`` with a 0/1 (or bool) response ``mask``; the K = ``group_size``
responses of one prompt are contiguous rows (§notation). Per-response tensors (scores, labels) are ``[batch]``.
Rows whose mask is all zeros (empty responses) are allowed everywhere and never produce NaN; each function says
what they contribute.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

# The token reward lives with the reward models so that Best-of-N scoring and training share one implementation.
from prime_eval.rewards.token_rewards import _last_valid, implicit_process_rewards

__all__ = [
    "accuracy_filter",
    "implicit_process_rewards",
    "masked_mean",
    "masked_moments",
    "masked_whiten",
    "whiten_with_moments",
    "normalize_process_rewards",
    "ppo_clip_loss",
    "prm_ce_loss",
    "prm_dpo_loss",
    "prm_pairwise_accuracy",
    "rloo_advantages",
]


def _check_tokens(mask: torch.Tensor, **tensors: torch.Tensor) -> torch.Tensor:
    if mask.dim() != 2:
        raise ValueError(f"mask must be [batch, tokens], got shape {tuple(mask.shape)}")
    for name, t in tensors.items():
        if t.shape != mask.shape:
            raise ValueError(f"{name} has shape {tuple(t.shape)}, expected the mask's {tuple(mask.shape)}")
    return mask != 0


def _check_rows(batch: int, **tensors: torch.Tensor) -> None:
    for name, t in tensors.items():
        if t.shape != (batch,):
            raise ValueError(f"{name} must be [batch] = ({batch},), got shape {tuple(t.shape)}")


def _check_groups(batch: int, group_size: int) -> int:
    if not isinstance(group_size, int) or group_size < 2:
        raise ValueError(f"group_size must be an int >= 2 (leave-one-out needs two samples), got {group_size!r}")
    if batch % group_size:
        raise ValueError(f"batch size {batch} is not divisible by group_size {group_size}")
    return batch // group_size


def _reverse_discounted_sum(x: torch.Tensor, gamma: float) -> torch.Tensor:
    # Discount by position distance over the whole row, as the reference loop does (§returns); with right-padded
    # masks the padding holds zeros and changes nothing.
    if gamma == 1.0:
        return x.flip(-1).cumsum(-1).flip(-1)
    out = torch.zeros_like(x)
    running = torch.zeros_like(x[:, 0])
    for t in range(x.shape[1] - 1, -1, -1):
        running = x[:, t] + gamma * running
        out[:, t] = running
    return out


def masked_mean(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` is set (over everything, or along ``dim``); 0 where nothing is set."""
    m = (mask != 0).to(values.dtype)
    total = (values * m).sum() if dim is None else (values * m).sum(dim)
    count = m.sum() if dim is None else m.sum(dim)
    return total / count.clamp(min=1)


def masked_moments(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[count, sum, sum of squares]`` of the valid values, in float64: what data-parallel processes all-reduce so
    that whitening uses the statistics of the whole batch, as the reference's driver does (§returns)."""
    valid = mask != 0
    v = torch.where(valid, values, torch.zeros_like(values)).to(torch.float64)
    return torch.stack([valid.sum().to(torch.float64), v.sum(), (v * v).sum()])


def whiten_with_moments(values: torch.Tensor, mask: torch.Tensor, moments: torch.Tensor, eps: float = 1e-8):
    """``(x - mu) / sqrt(var + eps)`` with mu and the *unbiased* variance taken from ``moments`` (see
    :func:`masked_moments`); invalid positions are 0. With fewer than two values the variance is taken as 0."""
    n, total, squares = moments.unbind()
    mu = total / n.clamp(min=1)
    var = ((squares - n * mu * mu) / (n - 1).clamp(min=1)).clamp(min=0)
    scaled = (values.to(torch.float64) - mu) * torch.rsqrt(var + eps)
    return torch.where(mask != 0, scaled.to(values.dtype), torch.zeros_like(values))


def masked_whiten(values: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``(x - mu) / sqrt(var + eps)`` with mean and *unbiased* variance over valid positions (veRL's
    ``masked_whiten``, §returns). Invalid positions are 0 (veRL leaves them shifted; they are never used). With
    fewer than two valid values the variance is taken as 0, so the single value (or nothing) becomes 0."""
    return whiten_with_moments(values, mask, masked_moments(values, mask), eps)


def normalize_process_rewards(q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``prime_norm=batch_norm`` (§implicit-reward): ``q / (max_{j,s} |sum_{u>=s} q_{j,u}| + 1e-6)`` over the batch.

    The reference takes the max per data-parallel shard; this takes it over the tensor given, so call it per
    shard for bit-exact parity. Invalid positions are 0 and do not enter the max.
    """
    valid = _check_tokens(mask, q=q)
    q = torch.where(valid, q, torch.zeros_like(q))
    denom = q.flip(-1).cumsum(-1).flip(-1).abs().max() + 1e-6
    return q / denom


def prm_ce_loss(q: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor, beta: float = 0.05) -> torch.Tensor:
    """PRM cross-entropy loss (§prm-loss, ``compute_ce_dpo_loss_rm``): mean over rows of
    ``BCE(sigmoid(beta * sum_t q), label)``. Labels may be fractional (code pass rates: soft-label BCE).

    Computed from logits (same value, no saturation at large |beta*sum q|). An empty row has logit 0.
    """
    valid = _check_tokens(mask, q=q)
    _check_rows(q.shape[0], labels=labels)
    logits = beta * torch.where(valid, q, torch.zeros_like(q)).sum(dim=1)
    return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


def prm_dpo_loss(
    q: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor, group_size: int, beta: float = 0.05
) -> torch.Tensor:
    """Detached-DPO PRM loss, the veRL recipe's ``compute_detach_dpo_loss_rm`` with ``bon_mode="none"`` (§prm-loss).

    For row i with Q_i = beta * sum_t q_i: other_Q is beta times the mean (detached) sum of q over the group's rows
    with *lower* label if o_i > 0, or *higher* label if o_i = 0 (0 when there is none). The loss is
    ``-log sigmoid((Q_i - other_Q) * sgn)``, sgn = +1 if o_i > 0 else -1, averaged over rows.
    """
    valid = _check_tokens(mask, q=q)
    batch = q.shape[0]
    _check_rows(batch, labels=labels)
    groups = _check_groups(batch, group_size)
    sums = torch.where(valid, q, torch.zeros_like(q)).sum(dim=1)
    o = labels.to(sums.dtype).view(groups, group_size)
    s = sums.detach().view(groups, group_size)
    oi, oj = o.unsqueeze(2), o.unsqueeze(1)  # [G, i, j]
    chosen = torch.where(oi > 0, oj < oi, oj > oi).to(s.dtype)  # strict: a row never picks itself
    count = chosen.sum(dim=2)
    other = beta * (chosen * s.unsqueeze(1)).sum(dim=2) / count.clamp(min=1)  # 0 when nothing is chosen
    sign = torch.where(o > 0, 1.0, -1.0).to(s.dtype)
    return -F.logsigmoid((beta * sums.view(groups, group_size) - other) * sign).mean()


def prm_pairwise_accuracy(q: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor, group_size: int) -> torch.Tensor:
    """The ``reward_model/dpo_acc`` metric, ``compute_dpo_accuracy`` (§prm-loss).

    Per group, over pairs i < j: ``(S_i - S_j > 0) == (o_i - o_j > 0)`` weighted by ``|o_i - o_j|`` (S = sum of
    q), normalised by the total weight; a group whose labels are all equal scores 0.5; averaged over groups.
    As in the reference, a tie in S reads as "j is not worse", so it counts as right when o_i < o_j.
    """
    valid = _check_tokens(mask, q=q)
    batch = q.shape[0]
    _check_rows(batch, labels=labels)
    groups = _check_groups(batch, group_size)
    with torch.no_grad():
        s = torch.where(valid, q, torch.zeros_like(q)).sum(dim=1).view(groups, group_size)
        o = labels.to(s.dtype).view(groups, group_size)
        upper = torch.ones(group_size, group_size, dtype=torch.bool, device=q.device).triu(diagonal=1)
        ds = (s.unsqueeze(2) - s.unsqueeze(1))[:, upper]  # [G, pairs], x_i - x_j for i < j
        do = (o.unsqueeze(2) - o.unsqueeze(1))[:, upper]
        weight = do.abs()
        agree = ((ds > 0) == (do > 0)).to(s.dtype)
        total = weight.sum(dim=1)
        acc = torch.where(total > 0, (agree * weight).sum(dim=1) / total.clamp(min=1e-30), 0.5)
        return acc.mean()


def rloo_advantages(
    process_rewards: torch.Tensor,
    outcome_scores: torch.Tensor,
    mask: torch.Tensor,
    group_size: int,
    gamma: float = 1.0,
    whiten: bool = True,
    variant: Literal["reference", "paper", "sequence"] = "reference",
    process_coef: float = 1.0,
    outcome_coef: float = 1.0,
    outcome_gamma: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """RLOO advantages on the two reward sources (§rloo). Returns ``(advantages, returns)``, both detached.

    ``process_rewards`` [batch, tokens] are the (normalised) token rewards r~; ``outcome_scores`` [batch] the
    verifier scores o. With m_j the mean valid-token reward of row j and K = ``group_size``:

    * ``variant="reference"`` (default, ``compute_rloo_returns``, §rloo): each valid token becomes
      ``v*K/(K-1) - sum_j m_j/(K-1)`` (j over the whole group, i included). [CODE≠PAPER]
    * ``variant="paper"`` (Eq. 5): each valid token becomes ``v - sum_{j!=i} m_j/(K-1)``.
    * ``variant="sequence"`` (prime's, neither the paper's nor the reference's): tokens keep their reward v, and
      the row's last valid token also gets ``-mean_{j!=i} S_j``, S_j the summed process reward of row j, so the
      first-token return is ``S_i - mean_{j!=i} S_j``. Why: the two variants above subtract their baseline once
      per token, so the first-token return carries ``-T_i * baseline``, a term that grows with the row's own
      length, i.e. depends on the row's own actions, which a baseline must not. While the policy is near the
      reference its samples' token rewards average ``-KL(pi_ref || pi_phi)``, negative once the PRM has moved, so
      every extra token earns a bonus and responses grow to the token cap (issue 16).

    Reference and paper agree on the first-token return when gamma = 1; intermediate tokens differ (§rloo).
    The outcome source is ``o_i - mean_{j!=i} o_j`` on the row's last valid token in every variant (§rloo).
    Each source is reverse-summed with its discount: process with ``gamma``; outcome with ``outcome_gamma``, which
    defaults to 1 for the paper (Eq. 5 does not discount the outcome) and to ``gamma`` otherwise (the reference's
    ``verifier_gamma``). ``returns = process_coef*R_proc + outcome_coef*R_out`` (1:1 by default), zero on invalid
    tokens. ``advantages = masked_whiten(returns)`` over all valid tokens of the batch, or a copy of the returns if
    ``whiten=False`` (all three: §returns).

    Empty rows: m_j = 0 (the reference would give NaN) and their o_j still enters the others' baselines (the
    response was sampled and scored); the row itself has zero returns and advantages.
    """
    valid = _check_tokens(mask, process_rewards=process_rewards)
    batch = valid.shape[0]
    _check_rows(batch, outcome_scores=outcome_scores)
    groups = _check_groups(batch, group_size)
    if variant not in ("reference", "paper", "sequence"):
        raise ValueError(f"variant must be 'reference', 'paper' or 'sequence', got {variant!r}")
    if outcome_gamma is None:
        outcome_gamma = 1.0 if variant == "paper" else gamma
    for name, g in (("gamma", gamma), ("outcome_gamma", outcome_gamma)):
        if not 0.0 <= g <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {g}")
    k = group_size
    with torch.no_grad():  # advantages are constants for the policy loss
        dtype = process_rewards.dtype if process_rewards.is_floating_point() else torch.float32
        r = torch.where(valid, process_rewards.to(dtype), torch.zeros((), dtype=dtype, device=valid.device))
        rows = torch.arange(batch, device=r.device)
        last, nonempty = _last_valid(valid)
        if variant == "sequence":
            sums = r.sum(dim=1).view(groups, k)
            others = ((sums.sum(dim=1, keepdim=True) - sums) / (k - 1)).reshape(batch)
            proc = r.clone()
            proc[rows, last] -= torch.where(nonempty, others, torch.zeros_like(others))
        else:
            m = masked_mean(r, valid, dim=1).view(groups, k)
            group_sum = m.sum(dim=1, keepdim=True)
            if variant == "reference":
                scale, baseline = k / (k - 1), (group_sum / (k - 1)).expand(groups, k)
            else:
                scale, baseline = 1.0, (group_sum - m) / (k - 1)
            proc = torch.where(valid, r * scale - baseline.reshape(batch, 1), torch.zeros_like(r))

        o = outcome_scores.to(dtype).view(groups, k)
        o_adv = (o - (o.sum(dim=1, keepdim=True) - o) / (k - 1)).reshape(batch)
        outc = torch.zeros_like(r)
        outc[rows, last] = torch.where(nonempty, o_adv, torch.zeros_like(o_adv))

        returns = process_coef * _reverse_discounted_sum(proc, gamma)
        returns = returns + outcome_coef * _reverse_discounted_sum(outc, outcome_gamma)
        returns = torch.where(valid, returns, torch.zeros_like(returns))
        advantages = masked_whiten(returns, valid) if whiten else returns.clone()
    return advantages, returns


def ppo_clip_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_eps: float = 0.2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO clipped surrogate (§ppo-loss): per token ``max(-A*rho, -A*clip(rho, 1-eps, 1+eps))``, rho =
    ``exp(logp - old_logp)``; token-mean per sequence, then mean over sequences (§ppo-loss).

    ``clip_fraction`` (detached) uses the same aggregation over the indicator "the clipped term is strictly
    larger", the reference's ``pg_clipfrac``: rho > 1+eps with A > 0, or rho < 1-eps with A < 0, i.e. the tokens
    whose gradient clipping removes. Rows with no valid token are left out of both means; with none at all both
    are 0 (the loss still has a graph, so ``backward()`` works).
    """
    valid = _check_tokens(mask, logp=logp, old_logp=old_logp, advantages=advantages)
    zero = torch.zeros_like(logp)
    # Padding may hold arbitrary log-probs; keep exp() and A*rho finite there.
    ratio = torch.exp(torch.where(valid, logp - old_logp, zero))
    adv = torch.where(valid, advantages.to(logp.dtype), zero)
    unclipped = -adv * ratio
    clipped = -adv * ratio.clamp(1.0 - clip_eps, 1.0 + clip_eps)
    per_token = torch.maximum(unclipped, clipped)
    nonempty = valid.any(dim=1)
    n_rows = nonempty.sum().clamp(min=1)
    loss = masked_mean(per_token, valid, dim=1)[nonempty].sum() / n_rows
    clip_fraction = masked_mean((clipped > unclipped).to(logp.dtype), valid, dim=1)[nonempty].sum() / n_rows
    return loss, clip_fraction.detach()


def accuracy_filter(
    scores: torch.Tensor, group_size: int, low: float = 0.2, high: float = 0.8, tol: float = 1e-6
) -> torch.Tensor:
    """Online prompt filter (§accuracy-filter): per group, True iff ``low <= mean(group's scores) <= high``.

    Inclusive as in the reference code (the paper writes strict inequalities; they differ only for fractional
    code scores exactly on a bound). ``tol`` keeps a mean that is mathematically on a bound (e.g. 1/5 = 0.2) from
    being dropped by float rounding.
    """
    if scores.dim() != 1:
        raise ValueError(f"scores must be [batch], got shape {tuple(scores.shape)}")
    groups = _check_groups(scores.shape[0], group_size)
    mean = scores.to(torch.float64).view(groups, group_size).mean(dim=1)
    return (mean >= low - tol) & (mean <= high + tol)
