"""Step time of PRIME against outcome-only RLOO on the same rollouts, split by phase.

    python -m benchmarks.perf.bench_trainer_step [--steps 3] [--prompts 8] [--samples 4] [--max-new-tokens 64]

Builds the tiny model of the CPU demo (``prime_train.tiny``), draws ``arith`` training rollouts once per measured
step with the PRIME trainer, then runs the learning half of the step (``PrimeTrainer.train_on``) on those same
groups with PRIME (reference forward, PRM forward + update, PPO) and with RLOO (PPO only). Rollout and verification
are shared, so they count once for both. The paper measured PRIME at 1.28x RLOO's step time (Table 2); the target
here is at most 1.3x. One process; on a GPU the same script times a bigger model (``--hidden``, ``--layers``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

PHASES = ("old_logprob", "ref_logprob", "prm", "advantages", "policy")


def _trainer(model: Path, out: Path, args, prm: bool):
    from prime_train.config import load_config
    from prime_train.trainer import PrimeTrainer

    cfg = load_config(
        None,
        {
            "output_dir": str(out),
            "tensorboard": False,
            "model": {"policy": str(model)},
            "data": {"benchmark": "arith", "size": 2000},
            "rollout": {"prompts_per_step": args.prompts, "samples_per_prompt": args.samples,
                        "max_new_tokens": args.max_new_tokens, "batch_size": args.prompts, "filter_low": None,
                        "filter_high": None},
            "policy": {"lr": 1e-5, "mini_batch_size": args.prompts * args.samples // 2, "micro_batch_size": 8},
            "prm": {"enabled": prm, "lr": 1e-5, "mini_batch_size": args.prompts * args.samples // 2,
                    "micro_batch_size": 8},
        },
    )  # fmt: skip
    return PrimeTrainer(cfg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="measured steps (after one warm-up)")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=None, help="model width (default: the demo's)")
    parser.add_argument("--layers", type=int, default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from prime_train.tiny import TinySpec, build_tiny_model
    from prime_train.trainer import _Timer

    tmp = Path(tempfile.mkdtemp(prefix="prime-bench-"))
    shape = {k: v for k, v in (("hidden", args.hidden), ("layers", args.layers)) if v is not None}
    spec = TinySpec(**shape)
    model = build_tiny_model(tmp / "model", **shape)
    prime = _trainer(model, tmp / "prime", args, prm=True)
    rloo = _trainer(model, tmp / "rloo", args, prm=False)
    totals = {"prime": {}, "rloo": {}}
    shared = {}
    for step in range(args.steps + 1):
        timer, stats = _Timer(), {}
        prime.step = step
        groups = prime._collect(timer, stats)
        for name, trainer in (("prime", prime), ("rloo", rloo)):
            learn = _Timer()
            trainer.train_on(groups, learn, {})
            if step:  # the first step warms up allocators and the verifier pool
                for phase, seconds in learn.seconds.items():
                    totals[name][phase] = totals[name].get(phase, 0.0) + seconds
        if step:
            for phase, seconds in timer.seconds.items():
                shared[phase] = shared.get(phase, 0.0) + seconds
    n = args.steps
    rollout = sum(shared.values()) / n
    print(f"tiny model {spec.hidden}x{spec.layers}, {args.prompts} prompts x {args.samples} samples, "
          f"<= {args.max_new_tokens} new tokens, {n} steps (seconds per step)")  # fmt: skip
    print("| phase | PRIME | RLOO |")
    print("|---|---|---|")
    print(f"| rollout + verify (shared) | {rollout:.3f} | {rollout:.3f} |")
    for phase in PHASES:
        p, r = totals["prime"].get(phase, 0.0) / n, totals["rloo"].get(phase, 0.0) / n
        print(f"| {phase} | {p:.3f} | {r:.3f} |")
    step_p = rollout + sum(totals["prime"].values()) / n
    step_r = rollout + sum(totals["rloo"].values()) / n
    print(f"| **step** | **{step_p:.3f}** | **{step_r:.3f}** |")
    print(f"PRIME / RLOO step time: {step_p / step_r:.2f}x (paper, 8xA800, 7B: 680.3 / 530.7 = 1.28x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
