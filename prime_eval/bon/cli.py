"""``prime-eval bon``: the Best-of-N bench from the command line (registered by ``prime_eval.cli``)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from ..arg_types import nonnegative_float, positive_float, positive_int, probability
from ..fields import Fields
from ..verify import DEFAULT_TIMEOUT_S
from .metrics import DEFAULT_DRAWS, DEFAULT_VOTE_WEIGHT, METRICS, VOTE_WEIGHTS


def _ns(text: str) -> list[int]:
    try:
        ns = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma list of integers like 1,2,4,8, got {text!r}") from None
    if not ns or min(ns) < 1:
        raise argparse.ArgumentTypeError(f"every N must be at least 1, got {text!r}")
    return ns


def _separator(text: str) -> str:
    """``\n``, ``\t``, ``\r`` and ``\\`` read as escapes, so ``--step-separator '\n\n'`` works from a shell."""
    out = re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(m.group(1), m.group(0)), text)
    if not out:
        raise argparse.ArgumentTypeError("the step separator must not be empty")
    return out


def add_bon_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``prime-eval bon``; exactly one reward-model option and one source of candidates."""
    parser.add_argument("--candidates", type=Path, help="JSONL (or .jsonl.gz): id, gold, response per row")
    parser.add_argument("--id-field", help="column of the problem id (default: id, problem_id or task_id)")
    parser.add_argument("--response-field", default="response", help="column of the candidate response")
    parser.add_argument("--gold-field", default="gold", help="column of the reference answer")
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
    rm.add_argument("--implicit-prm", metavar="MODEL", help="implicit PRM (causal LM): Hub id or local folder")
    rm.add_argument("--orm", metavar="MODEL", help="outcome RM (sequence classifier): Hub id or local folder")
    _add_neural_arguments(parser)
    _add_generate_arguments(parser)
    votes = parser.add_argument_group("voting")
    votes.add_argument(
        "--vote-weight",
        choices=sorted(VOTE_WEIGHTS),
        default=DEFAULT_VOTE_WEIGHT,
        help="weighted_maj vote of a candidate as a function of its score (default sigmoid, as ImplicitPRM)",
    )
    votes.add_argument(
        "--mc-draws",
        type=positive_int,
        default=DEFAULT_DRAWS,
        help="subsets drawn per problem for weighted_maj when there are more than this many (else exact)",
    )
    votes.add_argument("--seed", type=int, default=0, help="seed of the weighted_maj Monte Carlo draws")
    parser.add_argument(
        "--workers", type=positive_int, default=None, help="verifier worker processes (default: all cores)"
    )
    parser.add_argument(
        "--timeout", type=positive_float, default=DEFAULT_TIMEOUT_S, help="wall-clock seconds per verifier check"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


# Options of the neural reward models; None means "not given" (the settings dataclass then has the default).
_PRM_ONLY = ("beta", "step_separator", "step_reward", "aggregate")
_NEURAL = ("format", "question_field", "batch_size", "padding_side", "device", "dtype")


def _add_neural_arguments(parser: argparse.ArgumentParser) -> None:
    from ..device import DEVICES_HELP, DTYPES
    from ..rewards.formatting import FORMATS, PADDING_SIDES
    from ..rewards.steps import AGGREGATES, STEP_REWARDS

    g = parser.add_argument_group("implicit PRM and ORM (docs/reward-models.md)")
    ref = g.add_mutually_exclusive_group()
    ref.add_argument("--ref-model", metavar="MODEL", help="reference pi_ref of the implicit PRM")
    ref.add_argument("--no-ref", action="store_true", help="implicit PRM without reference (the 'w/o ref' variant)")
    g.add_argument(
        "--beta", type=positive_float, help="token reward coefficient (default 0.001, the reference scripts')"
    )
    g.add_argument("--step-separator", type=_separator, help="splits responses into steps (default '\\n\\n')")
    g.add_argument("--step-reward", choices=STEP_REWARDS, help="Q at step ends, or its change (default accumulative)")
    g.add_argument("--aggregate", choices=AGGREGATES, help="response score from step rewards (default min)")
    g.add_argument("--format", choices=FORMATS, help="chat template or plain question+response (default auto)")
    g.add_argument("--question-field", metavar="NAME", help="candidate field with the question (default: question, "
                   "problem or prompt, the first present)")  # fmt: skip
    g.add_argument("--batch-size", type=positive_int, help="sequences per forward pass (default 8)")
    g.add_argument("--padding-side", choices=PADDING_SIDES, help="default right; scores do not depend on it")
    g.add_argument("--device", help=f"{DEVICES_HELP} (default auto)")
    g.add_argument("--dtype", choices=DTYPES, help="default auto: bfloat16 on a GPU, float32 on CPU")


def _add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("generate the pools first (--generate instead of --candidates)")
    g.add_argument("--generate", action="store_true", help="draw --samples responses per problem, then bench them")
    g.add_argument("--benchmark", help="benchmark name(s), comma-separated (see `prime-eval ls`); math only")
    g.add_argument("--model", help="generator: Hub id, local path, served model name, or a responses file (file)")
    g.add_argument("--backend", choices=("hf", "vllm", "openai", "file"), help="generation backend (default hf)")
    g.add_argument("--model-args", help="backend options as k=v,k=v (base_url=..., tensor_parallel_size=2)")
    g.add_argument("--samples", type=positive_int, help="pool size: samples per problem (default 16)")
    g.add_argument("--limit", type=positive_int, help="first N problems of each benchmark")
    g.add_argument(
        "--temperature", type=nonnegative_float, help="default 0.5, the generator setting of ImplicitPRM's BoN pools"
    )
    g.add_argument("--top-p", type=probability)
    g.add_argument("--max-tokens", type=positive_int, help="default: each benchmark's own limit")
    g.add_argument("--sampling-seed", type=int, help="sample j is drawn with seed + j (default 0)")
    g.add_argument("--prompt-mode", choices=("prime", "prime_newlines", "chat", "plain"))
    g.add_argument("--data-dir", help="local benchmark files (default: ../shared/benchmarks)")
    g.add_argument("--include-path", metavar="DIR", help="your own benchmark definitions (docs/benchmarks.md)")
    g.add_argument("--data-source", choices=("auto", "local", "hf"))


def _reward_model(args: argparse.Namespace):
    from ..scoring import InputError
    from .reward_models import REWARD_MODELS, FieldRM, OracleRM

    given = {k: getattr(args, k) for k in _PRM_ONLY + _NEURAL if getattr(args, k, None) is not None}
    common = {"progress": not args.quiet}
    if args.implicit_prm:
        if args.ref_model is None and not args.no_ref:
            raise InputError("--implicit-prm needs --ref-model MODEL, or --no-ref for the 'w/o ref' variant")
        return REWARD_MODELS.create("implicit_prm", args.implicit_prm, ref=args.ref_model, **given, **common)
    wrong = [k for k in given if args.orm is None or k in _PRM_ONLY]
    if args.ref_model is not None or args.no_ref:
        wrong.append("ref_model" if args.ref_model is not None else "no_ref")
    if wrong:
        names = ", ".join("--" + k.replace("_", "-") for k in wrong)
        raise InputError(f"{names}: only for {'--implicit-prm' if args.orm else '--implicit-prm or --orm'}")
    if args.orm:
        return REWARD_MODELS.create("orm", args.orm, **given, **common)
    if args.oracle:
        return OracleRM()
    return FieldRM(args.scores_field)


_GENERATE_ONLY = ("benchmark", "model", "backend", "model_args", "samples", "limit", "temperature", "top_p",
                  "max_tokens", "sampling_seed", "prompt_mode", "data_dir", "include_path", "data_source")  # fmt: skip


def _run_config(args: argparse.Namespace):
    """The harness settings of ``--generate`` (validated as ``prime-eval run`` validates them)."""
    from ..cli import _parse_model_args
    from ..run_config import build_config
    from ..scoring import InputError
    from .generate import GENERATION_DIR

    if not args.benchmark or not args.model:
        raise InputError("--generate needs --benchmark NAME and --model MODEL")
    flags = {"model": args.model, "backend": args.backend, "benchmarks": args.benchmark,
             "n": 16 if args.samples is None else args.samples, "limit": args.limit,
             "temperature": 0.5 if args.temperature is None else args.temperature, "top_p": args.top_p,
             "max_tokens": args.max_tokens, "seed": args.sampling_seed, "prompt_mode": args.prompt_mode,
             "data_dir": args.data_dir, "include_path": args.include_path, "data_source": args.data_source,
             "output": str(args.output / GENERATION_DIR), "verify_workers": args.workers}  # fmt: skip
    options = _parse_model_args(args.model_args)
    if options:
        flags["backend_options"] = options
    return build_config(flags)


def _print(result: dict[str, Any]) -> None:
    from ..console import pct

    print("| benchmark | N | problems | " + " | ".join(f"{m}@N" for m in METRICS) + " |")
    print("|---" * (3 + len(METRICS)) + "|")
    rows = list(result["benchmarks"].items())
    overall = result.get("overall")
    if len(rows) > 1 and overall is not None:
        rows.append(("overall", overall))
    for name, summary in rows:
        for n in result["ns"]:
            metrics = summary["metrics"]
            if f"bon@{n}" not in metrics:
                continue
            cells = [pct(metrics[f"{m}@{n}"]["mean"]) for m in METRICS]
            problems = summary["num_problems"] - summary["excluded"][str(n)]
            print(f"| {name} | {n} | {problems} | " + " | ".join(cells) + " |")
    for name, summary in rows[: len(result["benchmarks"])]:
        left_out = {n: k for n, k in summary["excluded"].items() if k}
        if left_out:
            detail = ", ".join(f"{k} at N={n}" for n, k in left_out.items())
            print(f"note: {name}: problems with fewer candidates than N were left out ({detail})")
    if len(result["benchmarks"]) > 1:
        population = (overall or {}).get("population")
        if population is None:
            print(f"note: overall: no problem has {max(result['ns'])} candidates; no overall row")
        elif population["left_out"]:
            print(f"note: overall is over {population['rule']}: {population['problems']} problems "
                  f"({population['left_out']} with smaller pools left out at every N)")  # fmt: skip
    for old, new in result.get("renamed_input_fields", {}).items():
        print(f"note: the input's {old!r} column is kept as {new!r} in candidates.jsonl")


def _generate_and_bench(args: argparse.Namespace, config, rm) -> dict[str, Any]:
    from .bench import run_bon

    candidates, generation = args.candidates, None
    if config is not None:
        from .generate import generate_pool

        candidates, generation = generate_pool(config, args.output, progress=not args.quiet)
    return run_bon(
        candidates,
        args.output,
        args.n,
        rm,
        workers=args.workers,
        progress=not args.quiet,
        vote_weight=args.vote_weight,
        mc_draws=args.mc_draws,
        seed=args.seed,
        timeout_s=args.timeout,
        generation=generation,
        fields=Fields(args.id_field, args.response_field, args.gold_field),
    )


def cmd_bon(args: argparse.Namespace) -> int:
    """Run the bench; bad input raises ``InputError`` (the caller prints it and exits 2)."""
    from ..output_lock import hold_output
    from ..scoring import InputError

    if args.generate == (args.candidates is not None):
        raise InputError("give either --candidates FILE or --generate (with --benchmark and --model)")
    if not args.generate:
        stray = [k for k in _GENERATE_ONLY if getattr(args, k) is not None]
        if stray:
            raise InputError(", ".join("--" + k.replace("_", "-") for k in stray) + ": only with --generate")
        if args.candidates.resolve().parent == args.output.resolve() and args.candidates.name == "candidates.jsonl":
            raise InputError("--output would overwrite the --candidates file; choose another folder")
    config = _run_config(args) if args.generate else None
    # The reward model checks its paths and loads its tokenizer now, before a long generation; its weights load
    # when it first scores, after the generation engine has released the GPU.
    rm = _reward_model(args)
    with hold_output(args.output):  # held from generation to bon.json: one bench per folder
        result = _generate_and_bench(args, config, rm)
    _print(result)
    print(f"wrote {args.output / 'bon.json'}")
    return 0
