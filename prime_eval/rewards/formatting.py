"""From (question, response) pairs to padded model input, for the reward models of the Best-of-N bench.

Shared by :mod:`.implicit_prm` and :mod:`.orm`: text formatting (chat template or plain), tokenising with exact
character offsets, token positions of the response and its steps, length-sorted batches, padding, and loading
models with errors a user can read. Imports torch and transformers lazily (only when a model is used).
"""

from __future__ import annotations

import json
import os
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any, Literal

from ..scoring import InputError
from .steps import step_end_tokens

Format = Literal["auto", "chat", "plain"]
FORMATS: tuple[str, ...] = ("auto", "chat", "plain")
PADDING_SIDES: tuple[str, ...] = ("right", "left")
# Stands in for the response when the chat template is rendered, to find the text it writes around a reply.
_SENTINEL = "\u2063prime-response\u2063"


@dataclass(frozen=True)
class Framed:
    """A formatted pair: ``text[start:end]`` is the response verbatim; ``turn_end`` is where the assistant turn
    ends, its end-of-turn marker included and trailing whitespace left out (== ``end`` in plain format)."""

    text: str
    start: int
    end: int
    turn_end: int


def uses_chat(tokenizer: Any, fmt: Format) -> bool:
    if fmt not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if fmt == "chat" and not has_template:
        raise InputError("--format chat: the tokenizer has no chat template")
    return fmt == "chat" or (fmt == "auto" and has_template)


def frame(tokenizer: Any, question: str, response: str, chat: bool) -> Framed:
    """The text a reward model reads. Chat: what the template writes around an assistant message (found by
    rendering a placeholder reply) with the response inserted *verbatim*, so the scored tokens are the generated
    ones even for templates that trim or rewrite messages (Llama 3 trims); for templates that copy the message
    (ChatML, Qwen2.5, Llama 3 on trimmed text) this is exactly ``apply_chat_template``'s output. Plain:
    ``question + response``."""
    if not chat:
        text = question + response
        return Framed(text, len(question), len(text), len(text))
    messages = [{"role": "user", "content": question}, {"role": "assistant", "content": _SENTINEL}]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False)
    parts = rendered.split(_SENTINEL)
    if len(parts) != 2:
        raise InputError("the chat template does not copy the assistant message into its output; use --format plain")
    before, after = parts
    text = before + response + after
    end = len(before) + len(response)
    return Framed(text, len(before), end, end + len(after.rstrip()))


@dataclass(frozen=True)
class Encoded:
    """A tokenised pair: ``ids``; the response's tokens ``first..last`` (inclusive; ``last`` is the end-of-turn
    token in chat format; ``last < first`` when the response has no token); the token ending each step."""

    ids: list[int]
    first: int
    last: int
    step_ends: list[int]


def offsets_tokenizer(tokenizer: Any) -> Any:
    """A private copy of the fast tokenizer's backend with exact offsets: no truncation or padding (a
    ``tokenizer.json`` may carry either), and ``trim_offsets`` off, because trimming moves a token's start past
    its leading space, which would move step boundaries. Token ids are unchanged by both."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not getattr(tokenizer, "is_fast", False):
        raise InputError("reward models need a fast tokenizer (tokenizer.json): step ends come from its offsets")
    from tokenizers import Tokenizer

    spec = json.loads(backend.to_str())

    def untrim(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("trim_offsets") is True:
                node["trim_offsets"] = False
            for v in node.values():
                untrim(v)
        elif isinstance(node, list):
            for v in node:
                untrim(v)

    untrim(spec.get("post_processor"))
    spec["truncation"], spec["padding"] = None, None
    return Tokenizer.from_str(json.dumps(spec))


def encode(
    backend: Any, framed: Sequence[Framed], step_char_ends: Sequence[Sequence[int]], add_special_tokens: bool
) -> list[Encoded]:
    """Tokenise formatted pairs and place the response and its step ends on tokens (``step_char_ends`` are
    relative to the response; the last step ends at the end-of-turn token whatever its character end)."""
    out = []
    encodings = backend.encode_batch([f.text for f in framed], add_special_tokens=add_special_tokens)
    for f, char_ends, enc in zip(framed, step_char_ends, encodings):
        # Running maxima: special tokens a post-processor appends carry (0, 0) offsets, which would break the
        # order bisection needs; they then count as starting where the text left off.
        starts = list(accumulate((s for s, _ in enc.offsets), max))
        ends = list(accumulate((e for _, e in enc.offsets), max))
        first = max(bisect_right(ends, f.start), 1)  # position 0 has no log-prob: it predicts nothing
        last = bisect_left(starts, f.turn_end) - 1
        if last < first:  # no response token (an empty reply in plain format): every step ends before it
            step_ends = [max(last, 0)] * len(char_ends)
        else:
            step_ends = step_end_tokens(starts, [f.start + e for e in char_ends[:-1]], first, last) + [last]
        out.append(Encoded(list(enc.ids), first, last, step_ends))
    return out


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices in batches of similar length, longest first (so an out-of-memory error comes at once)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def collate(items: Sequence[Encoded], pad_id: int, side: str, device: Any) -> dict[str, Any]:
    """Padded tensors: ``ids``, ``attention`` (the mask to give the model), ``response`` (mask of response
    tokens), ``ends`` and ``valid`` (step-end positions [B, S] and which are real), all shifted by the left padding
    when ``side="left"``."""
    import torch

    if side not in PADDING_SIDES:
        raise InputError(f"padding side must be one of {', '.join(PADDING_SIDES)}, got {side!r}")
    width = max(len(e.ids) for e in items)
    steps = max(len(e.step_ends) for e in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(items), width), dtype=torch.long)
    response = torch.zeros((len(items), width), dtype=torch.bool)
    ends = torch.zeros((len(items), steps), dtype=torch.long)
    valid = torch.zeros((len(items), steps), dtype=torch.bool)
    for r, e in enumerate(items):
        shift = width - len(e.ids) if side == "left" else 0
        ids[r, shift : shift + len(e.ids)] = torch.tensor(e.ids)
        attention[r, shift : shift + len(e.ids)] = 1
        response[r, shift + e.first : shift + e.last + 1] = True
        ends[r, : len(e.step_ends)] = torch.tensor(e.step_ends) + shift
        valid[r, : len(e.step_ends)] = True
    if side == "right":
        # Causal attention: no real token attends to the padding on its right, so the model needs no mask, and
        # without one the attention kernels take their causal fast path (flash attention on a GPU). Pad positions
        # compute garbage that nothing reads. Left padding does need the mask.
        attention.fill_(1)
    tensors = {"ids": ids, "attention": attention, "response": response, "ends": ends, "valid": valid}
    return {k: v.to(device) for k, v in tensors.items()}


# --- loading ---------------------------------------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_model_path(path: str, what: str) -> None:
    """Fail in a line, before anything loads, for a local folder that is not there. A name that does not look
    like a path is left to the Hub (``org/name``)."""
    p = Path(path).expanduser()
    if p.exists():
        if not (p / "config.json").is_file():
            raise InputError(f"{what} {path!r} is not a model folder (no config.json)")
        return
    if path.startswith(("/", ".", "~")) or path.count("/") > 1 or os.sep != "/" and os.sep in path:
        raise InputError(f"{what} {path!r}: no such model folder")


def load_tokenizer(path: str, what: str) -> Any:
    check_model_path(path, what)
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"cannot load the tokenizer of {what} {path!r}: {_first_line(exc)}") from exc


def load_model(
    kind: Literal["causal", "classifier"], path: str, what: str, device: Any, dtype: Any, *, quiet: bool = False
) -> Any:
    """A model in eval mode without gradients, on ``device`` in ``dtype``; load errors become one line.
    ``quiet`` hides transformers' loading bar."""
    check_model_path(path, what)
    import transformers
    from transformers.utils import logging as hf_logging

    cls = transformers.AutoModelForCausalLM if kind == "causal" else transformers.AutoModelForSequenceClassification
    bars = hf_logging.is_progress_bar_enabled()
    if quiet:
        hf_logging.disable_progress_bar()
    try:
        model, info = cls.from_pretrained(path, dtype=dtype, output_loading_info=True)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"cannot load {what} {path!r}: {_first_line(exc)}") from exc
    finally:
        if quiet and bars:
            hf_logging.enable_progress_bar()
    # Weights missing from the checkpoint are initialised at random: a causal LM loaded as a classifier gets a
    # random score head and would give random scores without a word.
    missing = sorted(info.get("missing_keys") or ())
    if missing:
        head = "" if kind == "causal" else " (a sequence-classification reward model)"
        raise InputError(f"{what} {path!r} is not a {kind} checkpoint{head}: it lacks {', '.join(missing[:3])}")
    return model.to(device).eval().requires_grad_(False)


@contextmanager
def scoring_errors(batch_size: int) -> Iterator[None]:
    """An out-of-memory error becomes advice instead of a traceback."""
    import torch

    try:
        yield
    except torch.cuda.OutOfMemoryError as exc:
        raise InputError(f"out of GPU memory with {batch_size} sequences per batch; lower --batch-size") from exc


def progress_bar(total: int, desc: str, show: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="seq", dynamic_ncols=True, disable=not show)
