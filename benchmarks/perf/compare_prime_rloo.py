"""PRIME against outcome-only RLOO at equal numbers of samples, over several seeds: held-out accuracy per
evaluation step, mean +- standard error across seeds, as a figure and a JSON table.

    python -m benchmarks.perf.compare_prime_rloo --output runs/compare [--seeds 0,1,2] [--jobs 2] [--steps N]

Both algorithms start from one SFT checkpoint (the demo's: ``--sft``, or built under ``--output`` by the demo's own
``build_demo_sft``) and run the packaged ``tiny-cpu`` recipe, RLOO with ``--prm.enabled false``; a seed
changes the prompt order and the sampling, so seed s of PRIME and seed s of RLOO see the same first batch. Every
checkpoint is scored by ``prime-eval run`` through the trainer's own evaluation. Runs are separate
``prime-train`` processes, ``--jobs`` at a time, each on one torch thread; a finished run is not run again.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from prime_common.jsonl import json_document, read_jsonl, write_atomic
from prime_eval.metrics import stderr

ALGORITHMS = {"PRIME": [], "RLOO": ["--prm.enabled", "false"]}


@dataclass(frozen=True)
class Run:
    algorithm: str
    seed: int
    folder: Path

    def command(self, sft: Path, steps: int | None) -> list[str]:
        cmd = [sys.executable, "-m", "prime_train.cli", "--config", "tiny-cpu", "--model.policy", str(sft)]
        cmd += ["--seed", str(self.seed), "--output-dir", str(self.folder), *ALGORITHMS[self.algorithm]]
        return cmd + (["--max-steps", str(steps)] if steps is not None else [])

    def finished(self) -> bool:
        return (self.folder / "eval.jsonl").is_file() and (self.folder / "done").is_file()


def _sft(output: Path, given: Path | None) -> Path:
    if given is not None:
        return given
    from prime_train.demo import build_demo_sft

    return build_demo_sft(output)


def run_all(runs: list[Run], sft: Path, steps: int | None, jobs: int) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    waiting = [r for r in runs if not r.finished()]
    active: list[tuple[Run, subprocess.Popen]] = []
    while waiting or active:
        while waiting and len(active) < jobs:
            run = waiting.pop(0)
            run.folder.mkdir(parents=True, exist_ok=True)
            resume = ["--resume"] if (run.folder / "checkpoints").is_dir() else []
            log = open(run.folder.parent / f"{run.folder.name}.log", "ab")  # noqa: SIM115 - owned by the child
            active.append((run, subprocess.Popen(run.command(sft, steps) + resume, stdout=log, stderr=log, env=env)))
            log.close()
            print(f"compare: started {run.algorithm} seed {run.seed} -> {run.folder}", file=sys.stderr, flush=True)
        time.sleep(2)
        for run, process in list(active):
            if process.poll() is None:
                continue
            active.remove((run, process))
            if process.returncode != 0:
                raise SystemExit(f"compare: {run.folder} failed (exit {process.returncode}); see its .log")
            (run.folder / "done").write_text("")
            print(f"compare: finished {run.algorithm} seed {run.seed}", file=sys.stderr, flush=True)


def curves(runs: list[Run]) -> dict[str, dict[int, tuple[float, float, int]]]:
    """Per algorithm and evaluation step: (mean, standard error, seeds) of held-out greedy accuracy in %."""
    by: dict[str, dict[int, list[float]]] = {}
    for run in runs:
        for row in read_jsonl(run.folder / "eval.jsonl"):
            if "arith/avg" in row:
                by.setdefault(run.algorithm, {}).setdefault(row["step"], []).append(100 * row["arith/avg"])
    out: dict[str, dict[int, tuple[float, float, int]]] = {}
    for algorithm, steps in by.items():
        out[algorithm] = {}
        for step, values in sorted(steps.items()):
            out[algorithm][step] = (sum(values) / len(values), stderr(values), len(values))
    return out


def plot(table: dict[str, dict[int, tuple[float, float, int]]], samples_per_step: int, out: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for algorithm, steps in table.items():
        xs = [s * samples_per_step for s in steps]
        means = [m for m, _, _ in steps.values()]
        errors = [e for _, e, _ in steps.values()]
        seeds = max(n for _, _, n in steps.values())
        ax.errorbar(xs, means, yerr=errors, marker="o", capsize=3, label=f"{algorithm} ({seeds} seeds)")
    ax.set(title="arith held-out accuracy (greedy), mean +- s.e.", xlabel="training samples", ylabel="%")
    from prime_train.demo import save_figure

    return save_figure(fig, (ax,), out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("runs/compare"))
    parser.add_argument("--sft", type=Path, default=None, help="SFT checkpoint (default: build the demo's)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated run seeds (at least 3 for an error bar)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (one torch thread each)")
    parser.add_argument("--steps", type=int, default=None, help="RL steps per run (default: the recipe's)")
    args = parser.parse_args(argv)
    from prime_train.config import load_config

    args.output.mkdir(parents=True, exist_ok=True)
    sft = _sft(args.output, args.sft)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    runs = [Run(a, s, args.output / f"{a.lower()}-seed{s}") for s in seeds for a in ALGORITHMS]
    started = time.perf_counter()
    run_all(runs, sft, args.steps, args.jobs)
    recipe = load_config("tiny-cpu").rollout
    table = curves(runs)
    figure = plot(table, recipe.prompts_per_step * recipe.samples_per_prompt, args.output / "prime_vs_rloo.png")
    result = {
        "seeds": seeds,
        "samples_per_step": recipe.prompts_per_step * recipe.samples_per_prompt,
        "curves": {a: {str(s): {"mean": m, "se": e, "seeds": n} for s, (m, e, n) in steps.items()}
                   for a, steps in table.items()},
        "wall_s": time.perf_counter() - started,
    }  # fmt: skip
    write_atomic(args.output / "prime_vs_rloo.json", json_document(result))
    for algorithm, steps in table.items():
        print(f"{algorithm}: " + ", ".join(f"step {s} {m:.1f}+-{e:.1f}" for s, (m, e, _) in steps.items()))
    print(f"figure: {figure or '(install matplotlib)'}; table: {args.output / 'prime_vs_rloo.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
