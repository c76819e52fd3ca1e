"""``prime-train``: PRIME RL from a recipe (the default command), plus ``sft``, ``prm`` (offline implicit PRM
training) and ``demo`` (the built-in end-to-end run on the synthetic ``arith`` task).

    prime-train --config tiny-cpu --max-steps 20 --output-dir runs/tiny
    prime-train --config recipe.yaml --rollout.temperature 0.8 --prm.enabled false
    torchrun --nproc_per_node 8 -m prime_train.cli --config eurus2-7b-prime   # or: deepspeed --num_gpus 8 ...
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from prime_common.errors import UserError, report
from prime_common.typed_config import ConfigError, changes, parse_overrides, settings_help
from prime_eval.arg_types import positive_int

from . import __version__
from .config import TrainConfig, load_config


def _train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prime-train",
        description="PRIME RL training. Any setting of the recipe can be overridden as --section.key value\n"
        "(e.g. --rollout.samples_per_prompt 8 --prm.enabled false). Other commands: sft, prm, demo.",
        epilog="settings, with the defaults a recipe changes:\n" + "\n".join(settings_help(TrainConfig)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"prime-train {__version__}")
    parser.add_argument("--config", help="recipe YAML, or a packaged recipe: tiny-cpu, eurus2-7b-prime, ...")
    parser.add_argument("--model", help="the SFT checkpoint (sets model.policy; the PRM and reference follow it)")
    parser.add_argument("--max-steps", type=positive_int)
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
    _check_models(cfg)
    from .trainer import PrimeTrainer

    out = Path(cfg.output_dir)
    if args.resume:
        _check_resume(cfg, out)
    with _hold_run_dir(out):
        existed, had_config = out.exists(), (out / "config.yaml").exists()
        try:
            trainer = PrimeTrainer(cfg, resume=args.resume)
        except BaseException:
            if _is_first_process():
                _remove_unstarted(out, existed, had_config)
            raise
        run_dir = trainer.train()
    if trainer.strategy.is_main:
        print(f"prime-train: done; metrics in {Path(run_dir) / 'metrics.jsonl'}, checkpoints in {run_dir}/checkpoints")
    trainer.strategy.close()
    return 0


def _check_models(cfg) -> None:
    """A missing or unloadable model is one line before anything starts, not tracebacks from every process."""
    from prime_eval.rewards.formatting import check_model_path, load_tokenizer

    m = cfg.model
    for key in ("prm", "reference"):
        if getattr(m, key):
            check_model_path(getattr(m, key), f"model.{key}")
    if m.policy and not m.trust_remote_code:  # a remote-code tokenizer is the trainer's to load
        load_tokenizer(m.policy, "model.policy")
    elif m.policy:
        check_model_path(m.policy, "model.policy")


def _check_resume(cfg, out: Path) -> None:
    """A resume whose settings differ from the saved run names each changed key with both values, before the
    DeepSpeed start-up (the trainer checks again, by section, once started)."""
    import yaml

    from .trainer import _RESUMABLE_CHANGES

    saved = out / "config.yaml"
    if not saved.is_file():
        return
    before = load_config(None, yaml.safe_load(saved.read_text(encoding="utf-8"))).to_dict()
    current = cfg.to_dict()
    keep = [k for k in current if k not in _RESUMABLE_CHANGES]
    changed = changes({k: before.get(k) for k in keep}, {k: current[k] for k in keep})
    if changed:
        raise ConfigError(
            f"--resume: settings differ from the run in {out}: {'; '.join(changed)}; "
            "resume with the same recipe, or start a new --output-dir"
        )


def _is_first_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _hold_run_dir(run_dir: Path) -> AbstractContextManager:
    """One run per output folder; only the first process of a distributed launch takes the lock. The lock file
    lies beside the folder (``run.lock``), so that a run that never starts leaves no folder behind."""
    if not _is_first_process():
        return nullcontext()
    from prime_eval.output_lock import hold_output

    return hold_output(run_dir)


def _remove_unstarted(run_dir: Path, existed: bool, had_config: bool) -> None:
    """The trainer writes config.yaml before it loads the models: a run that never started must not leave it
    behind (a later --resume would take the folder for a run)."""
    if not had_config:
        (run_dir / "config.yaml").unlink(missing_ok=True)
    if not existed:
        try:
            run_dir.rmdir()
        except OSError:
            pass  # not empty: something else was written there, and is not ours to delete


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
    sub = argv[0] if argv and argv[0] in _SUBCOMMANDS else None
    try:
        return _subcommand(sub, argv[1:]) if sub else _train(argv)
    except (UserError, OSError) as exc:  # OSError: an environment fault (unwritable output, full disk)
        return report(f"prime-train {sub}" if sub else "prime-train", exc)


if __name__ == "__main__":
    sys.exit(main())
