"""``prime-eval bon``: the Best-of-N bench from the command line (registered by ``prime_eval.cli``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .metrics import DEFAULT_DRAWS, DEFAULT_VOTE_WEIGHT, METRICS, VOTE_WEIGHTS


def _ns(text: str) -> list[int]:
    try:
        ns = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma list of integers like 1,2,4,8, got {text!r}") from None
    if not ns or min(ns) < 1:
        raise argparse.ArgumentTypeError(f"every N must be at least 1, got {text!r}")
    return ns


def add_bon_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``prime-eval bon``; exactly one reward-model option is required."""
    parser.add_argument("--candidates", required=True, type=Path, help="JSONL: problem_id, gold, response per row")
    parser.add_argument("--output", required=True, type=Path, help="folder for bon.json, candidates.jsonl, bon.png")
    parser.add_argument(
        "--n",
        type=_ns,
        default=None,
        help="subset sizes, e.g. 1,2,4,8,16 (default: powers of two up to the smallest pool)",
    )
    rm = parser.add_argument_group("reward model (exactly one)").add_mutually_exclusive_group(required=True)
    rm.add_argument("--scores-field", metavar="NAME", help="scores already in the candidates file, in field NAME")
    rm.add_argument("--oracle", action="store_true", help="score = verifier label: bon@N is then pass@N")
    # The neural reward models (implicit PRM, ORM) add their options to this group when they land.
    votes = parser.add_argument_group("voting")
    votes.add_argument(
        "--vote-weight",
        choices=sorted(VOTE_WEIGHTS),
        default=DEFAULT_VOTE_WEIGHT,
        help="weighted_maj vote of a candidate as a function of its score (default sigmoid, as ImplicitPRM)",
    )
    votes.add_argument(
        "--mc-draws",
        type=int,
        default=DEFAULT_DRAWS,
        help="subsets drawn per problem for weighted_maj when there are more than this many (else exact)",
    )
    votes.add_argument("--seed", type=int, default=0, help="seed of the weighted_maj Monte Carlo draws")
    parser.add_argument("--workers", type=int, default=None, help="verifier worker processes (default: all cores)")
    parser.add_argument("--timeout", type=float, default=10.0, help="wall-clock seconds per verifier check")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _reward_model(args: argparse.Namespace):
    from .reward_models import FieldRM, OracleRM

    if args.oracle:
        return OracleRM()
    return FieldRM(args.scores_field)


def _print(result: dict[str, Any]) -> None:
    print("| benchmark | N | problems | " + " | ".join(f"{m}@N" for m in METRICS) + " |")
    print("|---" * (3 + len(METRICS)) + "|")
    rows = list(result["benchmarks"].items())
    if len(rows) > 1:
        rows.append(("overall", result["overall"]))
    for name, summary in rows:
        for n in result["ns"]:
            metrics = summary["metrics"]
            if f"bon@{n}" not in metrics:
                continue
            cells = [f"{100 * metrics[f'{m}@{n}']['mean']:.1f}" for m in METRICS]
            problems = summary["num_problems"] - summary["excluded"][str(n)]
            print(f"| {name} | {n} | {problems} | " + " | ".join(cells) + " |")
    for name, summary in rows[: len(result["benchmarks"])]:
        left_out = {n: k for n, k in summary["excluded"].items() if k}
        if left_out:
            detail = ", ".join(f"{k} at N={n}" for n, k in left_out.items())
            print(f"note: {name}: problems with fewer candidates than N were left out ({detail})")


def cmd_bon(args: argparse.Namespace) -> int:
    """Run the bench; bad input raises ``InputError`` (the caller prints it and exits 2)."""
    from ..scoring import InputError
    from .bench import run_bon

    if args.workers is not None and args.workers < 1:
        raise InputError("--workers must be at least 1")
    if args.timeout <= 0:
        raise InputError("--timeout must be positive")
    if args.candidates.resolve().parent == args.output.resolve() and args.candidates.name == "candidates.jsonl":
        raise InputError("--output would overwrite the --candidates file; choose another folder")
    result = run_bon(
        args.candidates,
        args.output,
        args.n,
        _reward_model(args),
        workers=args.workers,
        progress=not args.quiet,
        vote_weight=args.vote_weight,
        mc_draws=args.mc_draws,
        seed=args.seed,
        timeout_s=args.timeout,
    )
    _print(result)
    print(f"wrote {args.output / 'bon.json'}")
    return 0
