"""``prime-train demo``: the whole pipeline on CPU in minutes, from nothing.

1. a tiny model built from a config, with a tokenizer trained here (``prime_train.tiny``);
2. a short SFT on worked ``arith`` solutions (``prime_train.sft``);
3. PRIME from that SFT checkpoint (the packaged ``tiny-cpu`` recipe), every checkpoint scored by ``prime-eval``
   on ``arith`` and a slice of a real benchmark;
4. outcome-only RLOO from the same checkpoint with the same number of samples (``--prm.enabled false``);
5. a report of both runs (``prime-eval report``) and a plot of their curves.

Each stage is skipped when its output already exists, so a rerun after an interruption picks up where it was
(the RL runs resume from their last checkpoint).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .config import load_config


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", type=Path, default=Path("runs/demo"), help="folder for everything (runs/demo)")
    parser.add_argument("--steps", type=int, default=None, help="RL steps per run (default: the tiny-cpu recipe's)")
    parser.add_argument("--sft-steps", type=int, default=400, help="SFT optimizer steps (batch 32, 4000 problems)")
    parser.add_argument("--skip-rloo", action="store_true", help="train PRIME only")


def _stage(message: str) -> None:
    print(f"\n== prime-train demo: {message}", file=sys.stderr, flush=True)


def _rl(recipe_overrides: dict[str, Any], out: Path) -> Path:
    from .checkpoint import complete_checkpoints
    from .trainer import PrimeTrainer

    cfg = load_config("tiny-cpu", {**recipe_overrides, "output_dir": str(out)})
    trainer = PrimeTrainer(cfg, resume=bool(complete_checkpoints(out)))
    return trainer.train()


def plot_curves(runs: dict[str, Path], out: Path) -> Path | None:
    """Held-out ``arith`` accuracy against step for each run (from its eval.jsonl), plus training-rollout accuracy
    (metrics.jsonl). None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (held_out, train) = plt.subplots(1, 2, figsize=(10, 4))
    for name, run in runs.items():
        evals = sorted((json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines()),
                       key=lambda r: r["step"]) if (run / "eval.jsonl").is_file() else []  # fmt: skip
        points = [(r["step"], 100 * r["arith/avg"]) for r in evals if "arith/avg" in r]
        if points:
            held_out.plot(*zip(*points), marker="o", label=name)
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        train.plot([r["step"] for r in rows], [100 * r["rollout/accuracy"] for r in rows], label=name)
    held_out.set(title="arith test accuracy (greedy)", xlabel="RL step", ylabel="%")
    train.set(title="training rollout accuracy (T=1)", xlabel="RL step", ylabel="%")
    for ax in (held_out, train):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def cmd_demo(args: argparse.Namespace) -> int:
    from .sft import SFTConfig, run_sft
    from .tiny import build_tiny_model

    root: Path = args.output
    root.mkdir(parents=True, exist_ok=True)
    base, sft = root / "base", root / "sft"
    if not (base / "config.json").is_file():
        _stage(f"building a tiny model in {base}")
        build_tiny_model(base)
    if not (sft / "sft.json").is_file():
        _stage(f"SFT on worked arith solutions -> {sft}")
        # Measured (docs/training.md): 400 steps take about 2 minutes on 2 cores and leave the model right on
        # roughly 1 in 8 sampled answers, inside the band where PRIME's accuracy filter keeps groups.
        run_sft(
            SFTConfig(model=str(base), output=str(sft), examples=4000, steps=args.sft_steps, batch_size=32, lr=3e-3)
        )
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
    print(f"\nprime-train demo: done.\n  curves: {curves or '(install matplotlib for the plot)'}\n"
          f"  report: {report / 'report.html'} (and report.md)\n"
          f"  runs:   {', '.join(str(p) for p in runs.values())} (metrics.jsonl, eval/step-N/results.json)")  # fmt: skip
    return 0
