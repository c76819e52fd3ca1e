"""Steps of a response and the step rewards of an implicit PRM, as pure functions (docs/reward-models.md).

Three layers, each testable alone:

* characters: where each step of a response ends (:func:`split_step_ends`, :func:`join_step_ends`);
* tokens: which token ends each step, from a tokenizer's offset mapping (:func:`step_end_tokens`);
* tensors: step rewards from token rewards (:func:`step_values`) and a response score from them (:func:`aggregate`).

A step *ends with its separator*: the separator's characters count toward the step they close. That is where
ImplicitPRM's reference collator puts a step end (the prefix it re-tokenises for step k ends with "\\n\\n"), and
it means the Q value of step k has read everything up to the point where step k+1 begins.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch

StepReward = Literal["accumulative", "single"]
Aggregate = Literal["min", "sum", "last", "mean"]
STEP_REWARDS: tuple[str, ...] = ("accumulative", "single")
AGGREGATES: tuple[str, ...] = ("min", "sum", "last", "mean")


def split_step_ends(response: str, separator: str) -> list[int]:
    """Exclusive character ends of the steps of ``response`` split at ``separator`` (non-overlapping, left to
    right, as ``str.split``). Always at least one step; the last end is ``len(response)``.

    A piece that is empty or only whitespace is not a step: it extends the step before it (the separator twice
    in a row, or a trailing separator), and blank pieces before the first text join the first step. So every
    step but the last ends exactly where the next step's text begins. Otherwise an empty step would contribute
    a Q value that has read nothing new, which pins ``min`` near 0 and adds a spurious term to ``sum``. The text
    itself is never changed: every character is still scored.
    """
    if not separator:
        raise ValueError("the step separator must not be empty")
    starts, pos = [], 0  # where each non-blank piece begins
    while True:
        j = response.find(separator, pos)
        piece = response[pos:] if j == -1 else response[pos:j]
        if piece.strip():
            starts.append(pos)
        if j == -1:
            break
        pos = j + len(separator)
    return starts[1:] + [len(response)]


def join_step_ends(steps: Sequence[str], separator: str) -> tuple[str, list[int]]:
    """The response ``separator.join(steps)`` and the exclusive character end of every given step (one per step,
    empty steps included: a caller that passes its own steps gets a value for each)."""
    if not steps:
        raise ValueError("a solution needs at least one step")
    ends, pos = [], 0
    for i, step in enumerate(steps):
        pos += len(step)
        if i < len(steps) - 1:
            pos += len(separator)
        ends.append(pos)
    return separator.join(steps), ends


def step_end_tokens(starts: Sequence[int], char_ends: Sequence[int], first: int, last: int) -> list[int]:
    """Token index that ends each step: the last token in ``[first, last]`` that starts before the step's end
    character, i.e. the token holding the step's last character (a byte-level piece of a multi-byte character
    shares that character's offsets, so the *last* piece is taken). Characters a tokenizer drops belong to no
    token and move nothing. ``starts`` are the tokens' start offsets in the formatted text, non-decreasing;
    ``char_ends`` are absolute (already shifted by the response's start); ``first``/``last`` bound the response's
    tokens. The final step is the caller's (it ends at the end-of-turn token, not at a character).
    """
    out = []
    for a in char_ends:
        i = bisect.bisect_left(starts, a, first, last + 1) - 1
        out.append(min(max(i, first), last))
    return out


def step_values(
    q: torch.Tensor, ends: torch.Tensor, valid: torch.Tensor, coef: float, kind: StepReward
) -> torch.Tensor:
    """Step rewards [B, S] (float64) from token scores ``q`` [B, T] (0 outside the response).

    ``Q_t = sum_{u <= t} coef * q_u`` is the implicit Q value; ``"accumulative"`` takes Q at each step's end token
    ``ends`` [B, S], ``"single"`` the difference from the previous step's Q (the first step's from 0, the Q
    before the response). Positions where ``valid`` [B, S] is False (padding of shorter step lists) are 0.
    Float64 so that a long response's cumulative sum adds no rounding of its own.
    """
    import torch

    if kind not in STEP_REWARDS:
        raise ValueError(f"step reward must be one of {', '.join(STEP_REWARDS)}, got {kind!r}")
    Q = (coef * q.double()).cumsum(-1).gather(1, ends.long())
    if kind == "single":
        Q = Q - torch.cat([torch.zeros_like(Q[:, :1]), Q[:, :-1]], dim=1)
    return torch.where(valid, Q, torch.zeros_like(Q))


def aggregate(values: torch.Tensor, valid: torch.Tensor, how: Aggregate) -> torch.Tensor:
    """One score per row [B] from step rewards [B, S]: the ``min``, ``sum``, ``last`` or ``mean`` over its valid
    steps (each row has at least one; a valid step is never after an invalid one)."""
    import torch

    counts = valid.sum(dim=1)
    if bool((counts == 0).any()):
        raise ValueError("every response needs at least one step")
    if how == "min":
        return torch.where(valid, values, torch.full_like(values, float("inf"))).min(dim=1).values
    total = torch.where(valid, values, torch.zeros_like(values)).sum(dim=1)
    if how == "sum":
        return total
    if how == "mean":
        return total / counts.to(values.dtype)
    if how == "last":
        return values.gather(1, (counts - 1).unsqueeze(1)).squeeze(1)
    raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}, got {how!r}")
