"""``prime-train demo``: the whole pipeline on CPU in minutes, from nothing.

1. a tiny model built from a config, with a tokenizer trained here (``prime_train.tiny``);
2. SFT in two stages (``prime_train.sft``, ``build_demo_sft``): worked ``arith`` solutions, then a short stage in
   which most targets are bare ``\\boxed{answer}``s, which leaves a model that answers bare by habit although its
   worked steps are far better (docs/training.md, "The CPU demo");
3. PRIME from that SFT checkpoint (the packaged ``tiny-cpu`` recipe), every checkpoint scored by ``prime-eval``
   on ``arith``'s 200 held-out problems;
4. outcome-only RLOO from the same checkpoint with the same number of samples (``--prm.enabled false``);
5. a report of both runs (``prime-eval report``) and a plot of their curves.

Each stage is skipped when its output already exists, so a rerun after an interruption picks up where it was
(the RL runs resume from their last checkpoint).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from prime_common.jsonl import json_document, read_jsonl, write_atomic

from .config import load_config


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", type=Path, default=Path("runs/demo"), help="folder for everything (runs/demo)")
    parser.add_argument("--steps", type=int, default=None, help="RL steps per run (default: the tiny-cpu recipe's)")
    parser.add_argument(
        "--sft-steps", type=int, default=None, help="first-stage SFT steps (default: prime-train sft's)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for SFT and RL (default 1)")
    parser.add_argument("--skip-rloo", action="store_true", help="train PRIME only")


def _stage(message: str) -> None:
    print(f"\n== prime-train demo: {message}", file=sys.stderr, flush=True)


# Stage 2 of the demo's SFT: a short fine-tune in which each presentation of a problem is answer-only with this
# probability. Measured (docs/training.md): after 150 steps at lr 1e-3 the model answers bare at T = 1 most of the
# time and greedy decoding answers bare on nearly every held-out problem, right a few % of the time, while its worked
# steps, when it writes them, are right about half the time.
HABIT_FRACTION = 0.6
HABIT_STEPS = 150
HABIT_LR = 1e-3


def build_demo_sft(root: Path, *, threads: int = 1, steps: int | None = None, announce=lambda _: None) -> Path:
    """The demo's model and SFT under ``root`` (base/, sft-worked/, sft/), each stage skipped when its output exists;
    returns the final SFT folder. ``steps`` overrides the first stage's SFT steps (tests use a handful)."""
    from .sft import SFTConfig, run_sft
    from .tiny import build_tiny_model

    base, worked, sft = root / "base", root / "sft-worked", root / "sft"
    if not (base / "config.json").is_file():
        announce(f"building a tiny model in {base}")
        build_tiny_model(base)
    if not (worked / "sft.json").is_file():
        announce(f"SFT on worked arith solutions -> {worked}")
        first = {} if steps is None else {"steps": steps}
        run_sft(SFTConfig(model=str(base), output=str(worked), threads=threads, answer_only_fraction=0.0, **first))
    if not (sft / "sft.json").is_file():
        announce(f"SFT stage 2: {HABIT_FRACTION:.0%} of the targets bare answers (the habit RL should drop) -> {sft}")
        run_sft(SFTConfig(model=str(worked), output=str(sft), threads=threads, steps=HABIT_STEPS if steps is None
                          else max(1, steps // 8), lr=HABIT_LR, answer_only_fraction=HABIT_FRACTION,
                          answer_only_resample=True))  # fmt: skip
    return sft


def _rl(recipe_overrides: dict[str, Any], out: Path) -> Path:
    from .checkpoint import complete_checkpoints
    from .trainer import PrimeTrainer

    cfg = load_config("tiny-cpu", {**recipe_overrides, "output_dir": str(out)})
    trainer = PrimeTrainer(cfg, resume=bool(complete_checkpoints(out)))
    return trainer.train()


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return read_jsonl(path) if path.is_file() else []


def _smooth(values: list[float], width: int = 5) -> list[float]:
    """Trailing mean over ``width`` steps: one step's rollout accuracy on 64-128 samples is noisy."""
    return [sum(values[max(0, i - width + 1) : i + 1]) / len(values[max(0, i - width + 1) : i + 1])
            for i in range(len(values))]  # fmt: skip


def _quarter(values: list[float], *, first: bool) -> list[float]:
    n = max(1, len(values) // 4)
    return values[:n] if first else values[len(values) - n :]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def summarize(runs: dict[str, Path]) -> dict[str, dict[str, float]]:
    """Per run: held-out greedy accuracy at the first and last scored step, the training reward (rollout accuracy
    at T = 1) averaged over the first and the last quarter of the steps, and (PRIME) the PRM's pairwise accuracy
    over the last quarter, the numbers issue 16 asks the demo to show."""
    out: dict[str, dict[str, float]] = {}
    for name, run in runs.items():
        evals = sorted((r for r in _jsonl(run / "eval.jsonl") if "arith/avg" in r), key=lambda r: r["step"])
        rows = _jsonl(run / "metrics.jsonl")
        summary: dict[str, float] = {}
        if evals:
            summary.update(first_step=evals[0]["step"], first=evals[0]["arith/avg"],
                           last_step=evals[-1]["step"], last=evals[-1]["arith/avg"])  # fmt: skip
        reward = [r["rollout/accuracy"] for r in rows if "rollout/accuracy" in r]
        if reward:
            # Step 1's rollouts come from the SFT checkpoint itself: the start's T = 1 accuracy on training prompts.
            summary["reward_start"] = reward[0]
            summary["reward_first_quarter"] = _mean(_quarter(reward, first=True))
            summary["reward_last_quarter"] = _mean(_quarter(reward, first=False))
        pairwise = [r["prm/pairwise_acc"] for r in rows if "prm/pairwise_acc" in r]
        if pairwise:
            summary["prm_pairwise_acc_last_quarter"] = _mean(_quarter(pairwise, first=False))
        if rows:
            summary["wall_s"] = sum(r["time/step"] for r in rows)
            summary["cpu_s"] = sum(r.get("time/step_cpu", 0.0) for r in rows)
        out[name] = summary
    return out


def plot_curves(runs: dict[str, Path], out: Path) -> Path | None:
    """Held-out ``arith`` greedy accuracy per scored checkpoint (eval.jsonl), training-rollout accuracy at T = 1
    and the implicit PRM's pairwise accuracy (metrics.jsonl, 5-step trailing means). None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (held_out, train, prm) = plt.subplots(1, 3, figsize=(15, 4))
    for name, run in runs.items():
        evals = sorted(_jsonl(run / "eval.jsonl"), key=lambda r: r["step"])
        points = [(r["step"], 100 * r["arith/avg"]) for r in evals if "arith/avg" in r]
        if points:
            held_out.plot(*zip(*points), marker="o", label=name)
        rows = _jsonl(run / "metrics.jsonl")
        steps = [r["step"] for r in rows]
        train.plot(steps, _smooth([100 * r["rollout/accuracy"] for r in rows]), label=name)
        pairwise = [(r["step"], r["prm/pairwise_acc"]) for r in rows if "prm/pairwise_acc" in r]
        if pairwise:
            prm.plot([s for s, _ in pairwise], _smooth([a for _, a in pairwise]), label=f"{name} PRM")
    prm.axhline(0.5, color="grey", lw=0.8, ls="--", label="chance")
    held_out.set(title="arith held-out accuracy (greedy)", xlabel="RL step", ylabel="%")
    train.set(title="training rollout accuracy (T=1, 5-step mean)", xlabel="RL step", ylabel="%")
    prm.set(title="implicit PRM pairwise accuracy (5-step mean)", xlabel="RL step", ylim=(0.3, 1.0))
    return save_figure(fig, (held_out, train, prm), out)


def save_figure(fig: Any, axes: tuple, out: Path) -> Path:
    """Grid and legend on every panel, then write ``out`` and free the figure (pyplot keeps every open one)."""
    import matplotlib.pyplot as plt

    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _busy_warning() -> str | None:
    """A line saying the machine is busy, when the load average exceeds the cores: steps then take several times
    longer than the documented figures, and that is the reason, not the demo."""
    try:
        load, cores = os.getloadavg()[0], os.cpu_count() or 1
    except OSError:
        return None
    if load <= cores:
        return None
    return (f"the machine is busy (load average {load:.1f} on {cores} cores): expect steps several times slower "
            f"than on an idle machine; time/step against time/step_cpu in metrics.jsonl shows the wait")  # fmt: skip


def cmd_demo(args: argparse.Namespace) -> int:
    import torch

    # One intra-op thread: the tiny model's steps are dominated by per-op overhead, not arithmetic, and the
    # checkpoint evaluations run beside training (one thread each, niced), so training and scoring share two cores
    # instead of four threads fighting over them.
    torch.set_num_threads(args.threads)
    started, cpu_started = time.perf_counter(), time.process_time()
    root: Path = args.output
    root.mkdir(parents=True, exist_ok=True)
    warning = _busy_warning()
    if warning:
        print(f"prime-train demo: {warning}", file=sys.stderr, flush=True)
    sft = build_demo_sft(root, threads=args.threads, steps=args.sft_steps, announce=_stage)
    overrides: dict[str, Any] = {"model": {"policy": str(sft)}}
    if args.steps is not None:
        overrides["max_steps"] = args.steps
    runs = {"PRIME": root / "prime"}
    if not args.skip_rloo:
        runs["RLOO"] = root / "rloo"
    for name, run in runs.items():
        _stage(f"{name} from the SFT checkpoint -> {run}")
        extra = {} if name == "PRIME" else {"prm": {"enabled": False}}
        _rl({**overrides, **extra}, run)
    _stage("report")
    from prime_eval.cli import main as prime_eval

    report = root / "report"
    prime_eval(["report", *map(str, runs.values()), "--references", "none", "--output", str(report)])
    curves = plot_curves(runs, root / "curves.png")
    summary = summarize(runs)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    write_atomic(
        root / "summary.json", json_document({"runs": summary, "wall_s": seconds, "cpu_s_main_process": cpu_seconds})
    )
    lines = []
    start = next((s["reward_start"] for s in summary.values() if "reward_start" in s), None)
    if start is not None:
        lines.append(f"  start (the SFT checkpoint): T = 1 accuracy {100 * start:.1f}% on step 1's training prompts")
    for name, s in summary.items():
        line = f"  {name}: held-out greedy {100 * s.get('first', 0):.1f}% (step {s.get('first_step', 0)})"
        line += f" -> {100 * s.get('last', 0):.1f}% (step {s.get('last_step', 0)})"
        if "reward_first_quarter" in s:
            line += f"; training reward {s['reward_first_quarter']:.2f} -> {s['reward_last_quarter']:.2f}"
        if "prm_pairwise_acc_last_quarter" in s:
            line += f", PRM pairwise accuracy {s['prm_pairwise_acc_last_quarter']:.2f} (last quarter of steps)"
        lines.append(line)
    print(f"\nprime-train demo: done in {seconds / 60:.1f} min ({cpu_seconds / 60:.1f} CPU-min in this process,"
          f" evaluations apart).\n" + "\n".join(lines) + "\n"
          f"  curves: {curves or '(install matplotlib for the plot)'}\n"
          f"  report: {report / 'report.html'} (and report.md)\n"
          f"  runs:   {', '.join(str(p) for p in runs.values())} (metrics.jsonl, eval/step-N/results.json)")  # fmt: skip
    return 0
