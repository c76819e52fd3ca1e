"""Supervised fine-tuning on a benchmark's worked solutions (``arith``'s train split by default): the warm start
that gives RL a policy which is right some of the time.

Prompts are rendered by ``prime_eval.prompts`` in the benchmark's ``prompt_mode`` and tokenized exactly as the
``hf`` backend tokenizes them, so SFT, RL rollouts and evaluation see the same prompt tokens. The loss covers only
the response (the solution plus EOS); prompt and padding positions carry the label -100. A plain torch loop:
AdamW, linear warmup then cosine decay, gradient clipping. The data order comes from ``seed``; same settings, same
torch build: the same weights (checked: the loss curve repeats to the last digit on a loaded and an idle machine).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from prime_common.errors import UserError
from prime_common.jsonl import json_document, write_atomic
from prime_common.typed_config import add_flags, setting

from .metrics_log import MetricsLog

IGNORE = -100  # the label torch's cross-entropy skips


class SFTError(UserError, ValueError):
    """Settings or data that SFT cannot use: a message for the user."""


@dataclass(frozen=True)
class SFTConfig:
    model: str = setting(help="model folder (e.g. from build_tiny_model) or Hub id")
    output: str = setting(help="folder for the fine-tuned model, tokenizer and sft.json")
    benchmark: str = setting("arith", "whose worked solutions")
    split: str | None = setting("train", "split of a generated benchmark; null: the definition's own data")
    # Defaults: the demo recipe for prime_train.tiny's model on arith (docs/arith.md). 4000 examples is nearly all
    # of arith's default train split (4394 problems), seen about ten times in 1200 steps: 500 steps left the model
    # miscopying operands (greedy 37.5% held-out, 18% at T = 1 on train prompts), 1200 steps reach 66% greedy.
    examples: int = setting(4000, "problems to train on")
    data_seed: int = setting(0, "which problems (generated data)")
    steps: int | None = setting(1200, "optimizer steps (0 or null: `epochs` passes over the examples)")
    epochs: float = 1.0
    lr: float = 3e-3
    warmup_ratio: float = 0.05
    min_lr_ratio: float = setting(0.1, "cosine floor, x lr")
    weight_decay: float = 0.0
    batch_size: int = 32
    # Never cut: a cut answer teaches nothing.
    max_length: int = setting(256, "longer examples are dropped (counted in sft.json)")
    # SFT data mixing careful and answer-only solutions, as real SFT sets do. The demo's second SFT stage uses 0.6,
    # drawn per presentation (``answer_only_resample``), to give its model a habit RL should drop (prime_train.demo).
    answer_only_fraction: float = setting(
        0.0, "share of examples trained on the final \\boxed{answer} alone, without worked steps"
    )
    # False: a fixed, seeded share of the problems is always answer-only. True: every presentation of every problem
    # draws afresh, so the model sees each problem both ways and learns worked steps for all of them, with bare
    # answers as the more frequent first choice.
    answer_only_resample: bool = setting(
        False, "draw answer-only afresh at every presentation instead of fixing it per problem"
    )
    seed: int = setting(0, "data order")
    prompt_mode: Literal["prime", "prime_newlines", "chat", "plain"] | None = setting(
        None, "default: the benchmark's prompt_mode (arith: chat, as prime-eval run)"
    )
    device: str = setting("auto", "auto, cpu, cuda, cuda:1, ...")
    threads: int | None = setting(None, "torch CPU threads (1 on a shared machine); null: torch's default")
    progress: bool = setting(True, "a progress bar")
    tensorboard: bool = setting(True, "log each step to <output>/tensorboard too (metrics.jsonl always)")

    def __post_init__(self):
        if self.examples < 1 or self.batch_size < 1 or self.max_length < 2:
            raise SFTError("examples and batch_size must be >= 1 and max_length >= 2")
        if (self.steps is not None and self.steps < 1) or self.epochs <= 0 or self.lr <= 0:
            raise SFTError("steps must be >= 1, epochs and lr > 0")
        if not 0 <= self.warmup_ratio < 1 or not 0 <= self.min_lr_ratio <= 1:
            raise SFTError("warmup_ratio must be in [0, 1) and min_lr_ratio in [0, 1]")
        if not 0 <= self.answer_only_fraction <= 1:
            raise SFTError("answer_only_fraction must be in [0, 1]")


@dataclass(frozen=True)
class Example:
    ids: list[int]  # prompt then response
    prompt_len: int


def prompt_token_ids(tokenizer: Any, prompt: Any) -> list[int]:
    """Token ids of a rendered prompt, as the hf backend builds them: chat messages through the template (which
    holds BOS), a plain string with the tokenizer's own special tokens."""
    from prime_eval.backends.base import chat_token_ids

    if isinstance(prompt, str):
        return list(tokenizer(prompt)["input_ids"])
    if not tokenizer.chat_template:
        raise SFTError("the tokenizer has no chat template; use prompt_mode plain")
    return chat_token_ids(tokenizer, prompt)


def encode_example(tokenizer: Any, template: Any, question: str, solution: str) -> Example:
    """Prompt ids, then the solution's ids and EOS (what generation must produce to stop where it should)."""
    prompt = prompt_token_ids(tokenizer, template.render(question))
    response = list(tokenizer(solution, add_special_tokens=False)["input_ids"]) + [tokenizer.eos_token_id]
    return Example(prompt + response, len(prompt))


def collate(batch: list[Example], pad_id: int) -> dict[str, Any]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``labels`` (-100 on prompt and padding)."""
    import torch

    width = max(len(e.ids) for e in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    for i, e in enumerate(batch):
        ids = torch.tensor(e.ids)
        input_ids[i, : len(ids)] = ids
        attention[i, : len(ids)] = 1
        labels[i, e.prompt_len : len(ids)] = ids[e.prompt_len :]
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}


def _problems(config: SFTConfig) -> tuple[list[tuple[str, str]], str, dict[str, Any], dict[int, str]]:
    """(question, target) pairs, the prompt mode, the data fingerprint, and the answer-only target of every
    problem whose target is drawn afresh at each presentation (``answer_only_resample``; else empty)."""
    from benchmarks.loading import load_benchmark
    from benchmarks.registry import get_benchmark

    d = get_benchmark(config.benchmark)
    if d.verifier != "math":
        raise SFTError(f"{d.name}: SFT needs worked solutions, which only math benchmarks carry")
    if d.data.generator:
        loaded = load_benchmark(d, split=config.split, size=config.examples, seed=config.data_seed)
        scored = (config.split or d.data.split) == d.data.split
    else:  # a file or Hub benchmark has one split: the one evaluation reads
        loaded, scored = load_benchmark(d, limit=config.examples), True
    if scored:
        print(f"warning: training on {d.name}'s {d.data.split} split, which evaluation scores", file=sys.stderr)
    worked = [p for p in loaded.problems if p.meta.get("solution")]
    if not worked:
        raise SFTError(f"{d.name}: no problem has a worked solution (fields.solution)")
    bare = {i: f"\\boxed{{{p.reference}}}" for i, p in enumerate(worked)}
    if config.answer_only_resample:
        pairs = [(p.question, p.meta["solution"]) for p in worked]
        return pairs, config.prompt_mode or d.prompt_mode or "chat", loaded.source, bare
    fixed = answer_only_rows(len(worked), config.answer_only_fraction, config.data_seed)
    pairs = [(p.question, bare[i] if i in fixed else p.meta["solution"]) for i, p in enumerate(worked)]
    return pairs, config.prompt_mode or d.prompt_mode or "chat", loaded.source, {}


def answer_only_rows(count: int, fraction: float, seed: int) -> set[int]:
    """Which of ``count`` examples get an answer-only target: ``round(fraction * count)`` of them, a function of
    ``seed`` alone (not of the data order), so the same problems lose their steps in every run."""
    return set(random.Random(f"answer-only:{seed}").sample(range(count), round(fraction * count)))


def _batches(count: int, batch_size: int, seed: int) -> Iterator[list[int]]:
    """Index batches for ever, one shuffled pass after another (a pass's last batch may be short). Batches are
    not grouped by length: on arith that saves 40% of the padded tokens but groups problems of one shape
    together, and the loss after 480 steps came out twice as high (1.04 against 0.55)."""
    import torch

    rng = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(count, generator=rng).tolist()
        yield from (order[k : k + batch_size] for k in range(0, count, batch_size))


def presented(
    picked: list[int], examples: list[Example], alternates: dict[int, Example], fraction: float, coin: random.Random
) -> list[Example]:
    """The examples a batch trains on: each picked index's answer-only alternative with probability ``fraction``
    (one draw per presentation, where it has one), else its worked example."""
    return [alternates[i] if i in alternates and coin.random() < fraction else examples[i] for i in picked]


def _lr_factor(step: int, total: int, warmup: int, floor: float) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def run_sft(config: SFTConfig) -> Path:
    """Train and save a Hugging Face folder (model, tokenizer, ``sft.json``) in ``config.output``; returns it."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prime_eval.device import resolve_device
    from prime_eval.prompts import PromptTemplate

    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        tokenizer = AutoTokenizer.from_pretrained(config.model)
        model = AutoModelForCausalLM.from_pretrained(config.model, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise SFTError(f"cannot load model {config.model!r}: {exc}") from exc
    if tokenizer.eos_token_id is None:
        raise SFTError(f"{config.model}: the tokenizer has no EOS token; generation could never stop")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    pairs, mode, data, bare = _problems(config)
    template = PromptTemplate(mode, "math")
    encoded = [encode_example(tokenizer, template, q, s) for q, s in pairs]
    kept = [i for i, e in enumerate(encoded) if len(e.ids) <= config.max_length]
    examples = [encoded[i] for i in kept]
    # Per kept example, its answer-only alternative (resampled mode): drawn with probability answer_only_fraction.
    alternates = {
        n: encode_example(tokenizer, template, pairs[i][0], bare[i]) for n, i in enumerate(kept) if i in bare
    }
    coin = random.Random(f"answer-only-draws:{config.seed}")
    if not examples:
        raise SFTError(f"every example is longer than max_length={config.max_length}")
    total = config.steps or max(1, math.ceil(config.epochs * len(examples) / config.batch_size))
    warmup = max(1, round(config.warmup_ratio * total))

    device = resolve_device(config.device)
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: _lr_factor(s, total, warmup, config.min_lr_ratio)
    )
    batches = _batches(len(examples), config.batch_size, config.seed)
    out = Path(config.output)
    out.mkdir(parents=True, exist_ok=True)
    # The trainer's log: metrics.jsonl (a rerun starts it afresh) and TensorBoard.
    log = MetricsLog(out, tensorboard=config.tensorboard, wandb_project=None, config=asdict(config))
    log.truncate_after(0)
    losses: list[float] = []
    tokens = seen = 0
    bar = _bar(total, config.progress)
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(total):
        picked = next(batches)
        chosen = presented(picked, examples, alternates, config.answer_only_fraction, coin)
        batch = {k: v.to(device) for k, v in collate(chosen, pad_id).items()}
        loss = model(**batch).loss  # mean over response tokens: labels -100 elsewhere
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        lr = optimizer.param_groups[0]["lr"]  # this step's
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        log.log(len(losses), {"loss": losses[-1], "lr": lr})
        tokens += int((batch["labels"] != IGNORE).sum())
        seen += batch["input_ids"].numel()
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    log.close()
    if bar is not None:
        bar.close()

    model.eval().to("cpu").save_pretrained(out)
    tokenizer.save_pretrained(out)
    tail = losses[-10:]
    report = {
        "config": asdict(config),
        "prompt_mode": mode,
        "data": data,
        "examples": len(examples),
        "dropped_too_long": len(encoded) - len(examples),
        "steps": total,
        "response_tokens": tokens,
        "padded_tokens": seen,  # what the model computed on, padding included
        "first_loss": losses[0],
        "final_loss": losses[-1],
        "final_loss_mean10": sum(tail) / len(tail),
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,  # all threads: on a busy machine, seconds / cpu_seconds shows the contention
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
    }
    write_atomic(out / "sft.json", json_document(report))
    return out


def _bar(total: int, show: bool):
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="sft", unit="step", dynamic_ncols=True)


def add_sft_arguments(parser: argparse.ArgumentParser) -> None:
    """``prime-train sft`` flags: one per SFTConfig field, same names with dashes; a flag not given is ``None``, so
    the value of ``--config`` (or the field's default) holds."""
    parser.add_argument("--config", type=Path, help="YAML file of these settings (key: value); flags override it")
    add_flags(parser, SFTConfig)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def cmd_sft(args: argparse.Namespace) -> int:
    """Run ``prime-train sft``; a bad setting or file raises a ``UserError`` (``prime-train``'s main prints it)."""
    from prime_common.typed_config import given, load

    flags = {**given(args, SFTConfig), **({"progress": False} if args.quiet else {})}
    if str(flags.get("steps")) == "0":  # --steps 0: by epochs
        flags["steps"] = None
    out = run_sft(load(SFTConfig, getattr(args, "config", None), flags))
    report = json.loads((out / "sft.json").read_text())
    print(f"sft: {report['steps']} steps in {report['seconds']:.1f} s, loss {report['first_loss']:.3f} -> "
          f"{report['final_loss_mean10']:.3f} (mean of last 10); wrote {out}")  # fmt: skip
    return 0
