"""Offline implicit-PRM training (``prime-train prm``): fit pi_phi on (prompt, response, outcome label) rows.

The implicit PRM's outcome reward is ``beta * sum_t q_t`` with ``q_t = log pi_phi(y_t|.) - log pi_ref(y_t|.)``
(docs/algorithm.md §implicit-reward), so training on outcome labels alone teaches per-token (process) rewards.

Objectives:

* ``ce`` (default, PRIME's and EurusPRM's): ``BCE(sigmoid(beta * sum_t q), label)`` via
  :func:`prime_train.algorithms.prm_ce_loss`; labels in [0, 1], fractional ones (code pass rates) allowed.
* ``dpo``: plain pairwise DPO, ``-log sigmoid(beta * (sum q_chosen - sum q_rejected))``, on pairs of responses
  to the same prompt whose labels differ (the higher one is chosen), at most ``max_pairs_per_prompt`` pairs per
  prompt drawn by seed. This is the ImplicitPRM paper's offline DPO. ``algorithms.prm_dpo_loss`` is not used: it
  is the *online* recipe's detached variant, which needs fixed-size contiguous prompt groups (offline data has
  any number of responses per prompt) and compares each response with a detached group mean.

The reference is frozen (eval mode, no gradients). Prompt and response are framed and tokenized by the functions
``ImplicitPRM`` scores with (``prime_eval.rewards.formatting``; the response's tokens include the end-of-turn
token), so the saved folder loads into ``ImplicitPRM(model=DIR, ref=REF)`` and is scored on the tokens it was
trained on. Plain PyTorch loop: AdamW (betas 0.9/0.999, no weight decay: PRIME's PRM
optimizer), gradient clipping, gradient accumulation over micro-batches, data shuffled by seed. fp32 master
weights; on CUDA the forward runs under bf16 autocast and the reference is held in bf16 (§precision).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from prime_common.jsonl import json_document, prepare_output_file, write_atomic
from prime_common.typed_config import add_flags, setting
from prime_eval.scoring import InputError, read_rows

from .metrics_log import MetricsLog

MAX_REPORTED_ERRORS = 10


@dataclass(frozen=True)
class PRMTrainSettings:
    """Everything that determines a run; written to ``prm_training.json`` in the output folder."""

    data: str = setting(help="JSONL rows: prompt, response, label in [0, 1]")
    model: str = setting(help="initial PRM: Hugging Face id or local folder")
    output: str = setting(help="folder for the trained PRM and its logs")
    ref_model: str | None = setting(None, "frozen reference (default: the initial PRM, as PRIME initialises both)")
    objective: Literal["ce", "dpo"] = setting("ce", "loss")
    beta: float = setting(0.05, "scale of the summed log-ratio")
    lr: float = setting(5e-7, "AdamW learning rate")
    epochs: int = 1
    batch_size: int = setting(64, "rows (ce) or pairs (dpo) per optimizer step")
    micro_batch_size: int = setting(1, "rows (ce) or pairs (dpo) per forward; 1 as PRIME's PRM (long sequences)")
    max_length: int = setting(4096, "tokens; longer responses are cut")
    grad_clip: float = setting(10.0, "max gradient norm")
    seed: int = setting(0, "shuffling and pair sampling")
    device: str = setting("auto", "auto (cuda if available), cpu, cuda, cuda:1, ...")
    dtype: Literal["float32", "fp32", "bfloat16", "bf16"] = setting("float32", "the PRM's weights")
    gradient_checkpointing: bool = setting(False, "trade compute for memory")
    tensorboard: bool = setting(True, "log each step to <output>/tensorboard too (metrics.jsonl always)")
    max_pairs_per_prompt: int = setting(8, "dpo only")
    prompt_field: str = "prompt"
    response_field: str = "response"
    label_field: str = "label"
    format: Literal["auto", "chat", "plain"] = setting(
        "auto", "as ImplicitPRM's --format: auto uses the chat template when the tokenizer has one"
    )

    def check(self) -> None:
        if self.objective not in ("ce", "dpo"):
            raise InputError(f"objective must be 'ce' or 'dpo', got {self.objective!r}")
        if self.format not in ("auto", "chat", "plain"):
            raise InputError(f"format must be 'auto', 'chat' or 'plain', got {self.format!r}")
        if self.dtype not in ("float32", "fp32", "bfloat16", "bf16"):
            raise InputError(f"dtype must be float32 (fp32) or bfloat16 (bf16), got {self.dtype!r}")
        for name in ("epochs", "batch_size", "micro_batch_size", "max_length", "max_pairs_per_prompt"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("beta", "lr", "grad_clip"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"{name} must be a positive number, got {value}")


@dataclass(frozen=True)
class PRMExample:
    where: str
    prompt: str
    response: str
    label: float


@dataclass(frozen=True)
class PRMTrainResult:
    optimizer_steps: int
    units: int  # rows (ce) or pairs (dpo) per epoch
    first_loss: float
    last_loss: float
    truncated: int  # responses cut at max_length
    seconds: float


def read_examples(path: Path, settings: PRMTrainSettings) -> list[PRMExample]:
    """Every row of ``path`` as an example; all bad rows are reported together with their line numbers."""
    examples, errors = [], []
    p_f, r_f, l_f = settings.prompt_field, settings.response_field, settings.label_field
    for lineno, row in read_rows(Path(path)):
        where = f"{path}:{lineno}"
        missing = [k for k in (p_f, r_f, l_f) if row.get(k) is None]
        if missing:
            errors.append(f"{where}: missing or null field {', '.join(map(repr, missing))}")
            continue
        prompt, response, label = row[p_f], row[r_f], row[l_f]
        if not isinstance(prompt, str) or not prompt.strip() or not isinstance(response, str) or not response:
            errors.append(f"{where}: {p_f!r} and {r_f!r} must be non-empty strings")
            continue
        # true/false are read as 1/0: a verifier's "correct" flag is a natural label.
        if not isinstance(label, (bool, int, float)) or not 0.0 <= float(label) <= 1.0:
            errors.append(f"{where}: {l_f!r} must be a number in [0, 1] (or true/false), got {label!r}")
            continue
        examples.append(PRMExample(where, prompt, response, float(label)))
    if errors:
        more = f"\n... and {len(errors) - MAX_REPORTED_ERRORS} more" if len(errors) > MAX_REPORTED_ERRORS else ""
        raise InputError("\n".join(errors[:MAX_REPORTED_ERRORS]) + more)
    if not examples:
        raise InputError(f"{path}: no training rows")
    return examples


def make_pairs(examples: list[PRMExample], max_pairs_per_prompt: int, seed: int) -> list[tuple[int, int]]:
    """(chosen, rejected) indices: responses to one prompt with different labels, at most ``max_pairs_per_prompt``
    per prompt, drawn by ``seed``; prompts in order of first appearance."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        groups[ex.prompt].append(i)
    rng = random.Random(seed)
    pairs: list[tuple[int, int]] = []
    for idx in groups.values():
        cands = [(i, j) for i in idx for j in idx if examples[i].label > examples[j].label]
        if len(cands) > max_pairs_per_prompt:
            cands = rng.sample(cands, max_pairs_per_prompt)
        pairs += cands
    if not pairs:
        raise InputError("the dpo objective needs prompts with responses of different labels; none has any")
    return pairs


def pairwise_dpo_loss(sum_chosen, sum_rejected, beta: float):
    """``mean(-log sigmoid(beta * (S_chosen - S_rejected)))`` over pairs; S are summed token log-ratios."""
    import torch.nn.functional as F

    return -F.logsigmoid(beta * (sum_chosen - sum_rejected)).mean()


@dataclass(frozen=True)
class Tokenized:
    """An example's token ids; the response (end-of-turn token included in chat format) is ``first..last``."""

    ids: list[int]
    first: int
    last: int
    cut: bool  # the response was cut at max_length


def encode_examples(tokenizer, examples: list[PRMExample], max_length: int, fmt: str = "auto") -> list[Tokenized]:
    """Tokens of every (prompt, response), framed and placed exactly as ``ImplicitPRM`` frames and places them
    when it scores (``prime_eval.rewards.formatting``), so training and scoring see the same tokens."""
    from prime_eval.rewards.formatting import encode, frame, offsets_tokenizer, uses_chat

    chat = uses_chat(tokenizer, fmt)
    framed = [frame(tokenizer, ex.prompt, ex.response, chat) for ex in examples]
    # One "step" ending at the response's end: only the response's token span is needed here.
    spans = encode(offsets_tokenizer(tokenizer), framed, [[len(ex.response)] for ex in examples], not chat)
    out = []
    for ex, e in zip(examples, spans):
        if e.first >= max_length:
            raise InputError(f"{ex.where}: the prompt is {e.first} tokens, leaving no response token in max_length")
        if e.last < e.first:
            raise InputError(f"{ex.where}: the response has no token")
        out.append(Tokenized(e.ids[:max_length], e.first, min(e.last, max_length - 1), e.last >= max_length))
    return out


def _collate(items: list[Tokenized], pad_id: int, device):
    import torch

    width = max(len(t.ids) for t in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(items), width), dtype=torch.long)
    resp = torch.zeros((len(items), width), dtype=torch.bool)
    for r, t in enumerate(items):
        ids[r, : len(t.ids)] = torch.tensor(t.ids)
        attn[r, : len(t.ids)] = 1
        resp[r, t.first : t.last + 1] = True
    return ids.to(device), attn.to(device), resp.to(device)


def train(
    prm,
    ref,
    tokenizer,
    examples: list[PRMExample],
    settings: PRMTrainSettings,
    progress: bool = True,
    encoded: list[Tokenized] | None = None,
) -> PRMTrainResult:
    """Train ``prm`` in place against the frozen ``ref``; logs every optimizer step through the trainer's
    :class:`MetricsLog` (``settings.output/metrics.jsonl``, TensorBoard). Models must already be on one device.
    ``encoded``: the examples' :func:`encode_examples`, when the caller already has them."""
    import torch
    from tqdm import tqdm

    from prime_eval.rewards.token_rewards import implicit_process_rewards, token_logprobs
    from prime_train.algorithms import prm_ce_loss, prm_pairwise_accuracy

    settings.check()
    device = next(prm.parameters()).device
    ref.eval()
    ref.requires_grad_(False)
    prm.train()
    if settings.gradient_checkpointing:
        prm.gradient_checkpointing_enable()
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id or 0
    if encoded is None:
        encoded = encode_examples(tokenizer, examples, settings.max_length, settings.format)
    labels = torch.tensor([ex.label for ex in examples], dtype=torch.float32)
    dpo = settings.objective == "dpo"
    units: list[Any] = (
        make_pairs(examples, settings.max_pairs_per_prompt, settings.seed) if dpo else list(range(len(examples)))
    )
    # bf16 autocast on CUDA (fp32 master weights, as PRIME's PRM); CPU runs in the weights' own dtype.
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    opt = torch.optim.AdamW(prm.parameters(), lr=settings.lr, betas=(0.9, 0.999), weight_decay=0.0)
    rng = random.Random(settings.seed)
    steps_per_epoch = math.ceil(len(units) / settings.batch_size)
    out = Path(settings.output)
    prepare_output_file(out / "metrics.jsonl")  # an unusable output is one line before anything is written
    log = MetricsLog(out, tensorboard=settings.tensorboard, wandb_project=None, config=asdict(settings))
    log.truncate_after(0)  # every run trains afresh, so its log starts empty
    bar = tqdm(total=steps_per_epoch * settings.epochs, desc="prm", unit="step", disable=not progress)
    first_loss = last_loss = float("nan")
    step, t0 = 0, time.monotonic()

    def token_q(rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token log-ratios q [rows, tokens] (differentiable through the PRM only) and the response mask."""
        ids, attn, resp = _collate([encoded[i] for i in rows], pad_id, device)
        with autocast:
            logp = token_logprobs(prm, ids, attn)
            with torch.no_grad():
                logp_ref = token_logprobs(ref, ids, attn)
        return implicit_process_rewards(logp, logp_ref, resp), resp

    try:
        for epoch in range(settings.epochs):
            order = units[:]
            rng.shuffle(order)
            for b in range(0, len(order), settings.batch_size):
                batch = order[b : b + settings.batch_size]
                opt.zero_grad(set_to_none=True)
                loss_total, s_parts, o_parts = 0.0, [], []
                for m in range(0, len(batch), settings.micro_batch_size):
                    micro = batch[m : m + settings.micro_batch_size]
                    weight = len(micro) / len(batch)  # the optimizer step sees the mean over the whole batch
                    if dpo:
                        s = token_q([c for c, _ in micro] + [r for _, r in micro])[0].sum(dim=1)
                        s_c, s_r = s[: len(micro)], s[len(micro) :]
                        loss = pairwise_dpo_loss(s_c, s_r, settings.beta)
                        # Interleaved (chosen, rejected) groups of two: accuracy = share of pairs ranked right.
                        s_parts.append(torch.stack([s_c, s_r], dim=1).reshape(-1).detach())
                        o_parts.append(torch.stack([labels[[c for c, _ in micro]], labels[[r for _, r in micro]]], 1))
                    else:
                        q, resp = token_q(micro)
                        loss = prm_ce_loss(q, resp, labels[micro].to(device), settings.beta)
                        s_parts.append(q.detach().sum(dim=1))
                        o_parts.append(labels[micro])
                    (loss * weight).backward()
                    loss_total += loss.item() * weight
                grad_norm = torch.nn.utils.clip_grad_norm_(prm.parameters(), settings.grad_clip)
                opt.step()
                step += 1
                s_all = torch.cat(s_parts).float().cpu()
                o_all = torch.cat(o_parts).reshape(-1)
                # ce: the whole batch is one group (offline batches mix prompts); dpo: each pair is a group.
                group = 2 if dpo else len(s_all)
                acc = None
                if group >= 2:
                    ones = torch.ones(len(s_all), 1)
                    acc = prm_pairwise_accuracy(s_all.unsqueeze(1), ones, o_all, group).item()
                first_loss = loss_total if step == 1 else first_loss
                last_loss = loss_total
                log.log(step, {"epoch": epoch, "loss": loss_total, "pairwise_acc": acc, "grad_norm": float(grad_norm),
                               "lr": settings.lr, "units": len(batch), "seconds": round(time.monotonic() - t0, 3)})  # fmt: skip
                bar.update(1)
                bar.set_postfix(loss=f"{loss_total:.4f}", acc="n/a" if acc is None else f"{acc:.2f}")
    finally:
        bar.close()
        log.close()
    prm.eval()
    truncated = sum(1 for t in encoded if t.cut)
    return PRMTrainResult(step, len(units), first_loss, last_loss, truncated, time.monotonic() - t0)


def run_prm_training(settings: PRMTrainSettings, progress: bool = True) -> PRMTrainResult:
    """Load the models, train, and save a Hugging Face folder (model, tokenizer, ``prm_training.json``)."""
    import torch
    from transformers import AutoModelForCausalLM

    from prime_eval.device import resolve_device, resolve_dtype
    from prime_eval.provenance import package_versions, utc_now
    from prime_eval.rewards.formatting import check_model_path, load_model, load_tokenizer

    settings.check()
    examples = read_examples(Path(settings.data), settings)
    device = resolve_device(settings.device)
    ref_path = settings.ref_model or settings.model
    check_model_path(ref_path, "the reference model")
    tokenizer = load_tokenizer(settings.model, "the initial PRM")
    # Tokenize before loading any model: a prompt too long for --max-length should cost seconds, not a load.
    encoded = encode_examples(tokenizer, examples, settings.max_length, settings.format)
    started = utc_now()
    torch.manual_seed(settings.seed)
    prm = AutoModelForCausalLM.from_pretrained(settings.model, dtype=resolve_dtype(settings.dtype, device)).to(device)
    # Frozen, in bf16 on a GPU as PRIME's reference (§precision), in fp32 on CPU.
    ref_dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    ref = load_model("causal", ref_path, "the reference model", device, ref_dtype)
    result = train(prm, ref, tokenizer, examples, settings, progress=progress, encoded=encoded)
    out = Path(settings.output)
    prm.save_pretrained(out)
    tokenizer.save_pretrained(out)
    meta = {
        "settings": asdict(settings),
        "reference": ref_path,
        "note": "score with ImplicitPRM(model=<this folder>, ref=<reference>)",
        "result": asdict(result),
        "started": started,
        "finished": utc_now(),
        "versions": package_versions(),
    }
    write_atomic(out / "prm_training.json", json_document(meta))
    return result


def add_prm_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``prime-train prm``: one per ``PRMTrainSettings`` field; a flag not given is ``None``, so the
    value of ``--config`` (or the field's default) holds. ``data``, ``model`` and ``output`` are required."""
    parser.add_argument("--config", type=Path, help="YAML file of these settings (key: value); flags override it")
    add_flags(parser, PRMTrainSettings)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def cmd_prm(args: argparse.Namespace) -> int:
    """Run ``prime-train prm``; a bad setting or file raises a ``UserError`` (``prime-train``'s main prints it)."""
    from prime_common.typed_config import given, load

    settings = load(PRMTrainSettings, getattr(args, "config", None), given(args, PRMTrainSettings))
    result = run_prm_training(settings, progress=not args.quiet)
    print(f"{result.optimizer_steps} steps, loss {result.first_loss:.4f} -> {result.last_loss:.4f}"
          + (f", {result.truncated} responses cut at --max-length" if result.truncated else ""))  # fmt: skip
    print(f"wrote {args.output} (score it with the reference {settings.ref_model or settings.model})")
    return 0
