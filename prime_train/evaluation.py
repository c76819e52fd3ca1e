"""Continuous evaluation: every saved checkpoint is scored by ``prime-eval run`` in a separate process, with the
verifier evaluation uses everywhere, while training goes on.

Results land in ``eval/step-N/`` (the harness's own run folder: ``results.json``, samples, ``eval.log``) and one
line per checkpoint in ``eval.jsonl``. One evaluation runs at a time; later checkpoints queue. A resumed run
re-queues checkpoints whose evaluation never finished (the harness resumes its own half-done runs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prime_common.jsonl import Appender

from .config import EvalConfig


@dataclass
class _Job:
    step: int
    model: str
    process: subprocess.Popen | None = None
    started: float = 0.0


def eval_command(cfg: EvalConfig, model: str, out: Path, prompt_mode: str, seed: int) -> list[str]:
    cmd = [sys.executable, "-m", "prime_eval.cli", "run", "--model", model, "--backend", cfg.backend]
    cmd += ["--benchmarks", ",".join(cfg.benchmarks), "--output", str(out), "--n", str(cfg.n)]
    cmd += ["--temperature", str(cfg.temperature), "--prompt-mode", cfg.prompt_mode or prompt_mode]
    cmd += ["--seed", str(seed), "--quiet"]
    if cfg.limit is not None:
        cmd += ["--limit", str(cfg.limit)]
    if cfg.max_tokens is not None:
        cmd += ["--max-tokens", str(cfg.max_tokens)]
    return cmd + list(cfg.extra_args)


def eval_environment(base: dict[str, str], cpu_only: bool) -> dict[str, str]:
    """The evaluation child's environment. On a CPU-only machine the child shares the cores with training, so it
    gets one intra-op thread unless the user chose a count (OMP_NUM_THREADS): two processes each spinning one
    thread per core would slow both down many times over."""
    env = dict(base)
    if cpu_only:
        env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _lower_priority() -> None:
    # Runs in the child before exec: training keeps the CPU when both want it; evaluation takes what is left.
    os.nice(10)


def headline_scores(results: dict[str, Any]) -> dict[str, float]:
    """``{"<benchmark>/avg": mean, ...}`` from a harness results.json (plus pass@k / maj@k where present)."""
    out = {}
    for name, bench in results.get("benchmarks", {}).items():
        for metric, value in bench.get("metrics", {}).items():
            out[f"{name}/{metric}"] = value["mean"]
    return out


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


class CheckpointEvaluator:
    def __init__(self, cfg: EvalConfig, run_dir: Path, prompt_mode: str, seed: int, log):
        self.cfg = cfg
        self.run_dir = run_dir
        self.prompt_mode = prompt_mode
        self.seed = seed
        self.log = log  # called with (step, scores) when an evaluation finishes
        self.queue: deque[_Job] = deque()
        self.running: _Job | None = None
        self.failed: list[int] = []

    def out_dir(self, step: int) -> Path:
        return self.run_dir / "eval" / f"step-{step}"

    def done(self, step: int) -> bool:
        return (self.out_dir(step) / "results.json").is_file()

    def pending_steps(self) -> set[int]:
        steps = {job.step for job in self.queue}
        return steps | ({self.running.step} if self.running else set())

    def submit(self, step: int, model: str) -> None:
        if self.cfg.benchmarks and not self.done(step):
            self.queue.append(_Job(step, model))
            self.poll()

    def poll(self) -> None:
        """Collect a finished evaluation and start the next one; never blocks."""
        if self.running is not None and self.running.process.poll() is not None:
            self._collect(self.running)
            self.running = None
        if self.running is None and self.queue:
            job = self.queue.popleft()
            out = self.out_dir(job.step)
            out.mkdir(parents=True, exist_ok=True)
            log = open(out / "eval.log", "ab")  # noqa: SIM115 - owned by the child process
            job.process = subprocess.Popen(
                eval_command(self.cfg, job.model, out, self.prompt_mode, self.seed),
                stdout=log,
                stderr=log,
                env=eval_environment(dict(os.environ), cpu_only=not _cuda_available()),
                preexec_fn=_lower_priority if hasattr(os, "nice") else None,
            )
            log.close()
            job.started = time.time()
            self.running = job

    def _collect(self, job: _Job) -> None:
        results_file = self.out_dir(job.step) / "results.json"
        if job.process.returncode != 0 or not results_file.is_file():
            self.failed.append(job.step)
            print(
                f"prime-train: evaluation of step {job.step} failed (exit {job.process.returncode}); "
                f"see {self.out_dir(job.step) / 'eval.log'}",
                file=sys.stderr,
            )
            return
        scores = headline_scores(json.loads(results_file.read_text()))
        with Appender(self.run_dir / "eval.jsonl", fsync_every=1) as out:
            out.write({"step": job.step, "seconds": round(time.time() - job.started, 1), **scores})
        self.log(job.step, scores)

    def finish(self, report_every_s: float = 15.0) -> None:
        """Wait for every queued evaluation (the end of a run), saying which one runs and how long it has taken."""
        while self.running is not None or self.queue:
            if self.running is not None:
                try:
                    self.running.process.wait(timeout=report_every_s)
                except subprocess.TimeoutExpired:
                    print(
                        f"prime-train: evaluating step {self.running.step} "
                        f"({time.time() - self.running.started:.0f}s so far, {len(self.queue)} queued)",
                        file=sys.stderr,
                        flush=True,
                    )
                    continue
            self.poll()
