"""``prime-train``: PRIME RL from a recipe (the default command), plus ``sft``, ``prm`` (offline implicit PRM
training) and ``demo`` (the built-in end-to-end run on the synthetic ``arith`` task).

    prime-train --config tiny-cpu --max-steps 20 --output-dir runs/tiny
    prime-train --config recipe.yaml --rollout.temperature 0.8 --prm.enabled false
    torchrun --nproc_per_node 8 -m prime_train.cli --config eurus2-7b-prime   # or: deepspeed --num_gpus 8 ...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .config import ConfigError, load_config, parse_overrides


def _train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prime-train",
        description="PRIME RL training. Any setting of the recipe can be overridden as --section.key value "
        "(e.g. --rollout.samples_per_prompt 8 --prm.enabled false). Other commands: sft, prm, demo.",
    )
    parser.add_argument("--version", action="version", version=f"prime-train {__version__}")
    parser.add_argument("--config", help="recipe YAML, or a packaged recipe: tiny-cpu, eurus2-7b-prime, ...")
    parser.add_argument("--model", help="the SFT checkpoint (sets model.policy; the PRM and reference follow it)")
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--output-dir")
    parser.add_argument("--resume", action="store_true", help="continue the run in --output-dir where it stopped")
    parser.add_argument("--print-config", action="store_true", help="print the resolved settings and exit")
    return parser


def _train(argv: list[str]) -> int:
    import yaml

    args, rest = _train_parser().parse_known_args(argv)
    overrides = parse_overrides(rest)
    for key, value in (("max_steps", args.max_steps), ("output_dir", args.output_dir)):
        if value is not None:
            overrides[key] = value
    if args.model:
        overrides.setdefault("model", {})["policy"] = args.model
    cfg = load_config(args.config, overrides)
    if args.print_config:
        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
        return 0
    from .trainer import PrimeTrainer

    trainer = PrimeTrainer(cfg, resume=args.resume)
    run_dir = trainer.train()
    if trainer.strategy.is_main:
        print(f"prime-train: done; metrics in {Path(run_dir) / 'metrics.jsonl'}, checkpoints in {run_dir}/checkpoints")
    trainer.strategy.close()
    return 0


# Subcommands as (module, name stem): each module provides add_<stem>_arguments(parser) and cmd_<stem>(args).
_SUBCOMMANDS = {"sft": ("sft", "sft"), "prm": ("offline_prm", "prm"), "demo": ("demo", "demo")}


def _subcommand(name: str, argv: list[str]) -> int:
    import importlib

    module_name, stem = _SUBCOMMANDS[name]
    module = importlib.import_module(f"prime_train.{module_name}")
    parser = argparse.ArgumentParser(prog=f"prime-train {name}")
    getattr(module, f"add_{stem}_arguments")(parser)
    return getattr(module, f"cmd_{stem}")(parser.parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] in _SUBCOMMANDS:
            return _subcommand(argv[0], argv[1:])
        return _train(argv)
    except ConfigError as exc:
        print(f"prime-train: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
