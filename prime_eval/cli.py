"""``prime-eval``: the command line. Only argparse loads at start; each subcommand imports what it needs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prime_common.errors import UserError, report

from . import __version__
from .arg_types import nonnegative_float, nonnegative_int, positive_float, positive_int, probability


def _add_verify_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("verification")
    g.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: all cores)")
    g.add_argument(
        "--timeout",
        type=positive_float,
        default=None,
        help="wall-clock seconds per check before it is killed (default: math 10, code the code verifier's own bound "
        "on its sandbox run)",
    )
    g.add_argument(
        "--memory-mb", type=nonnegative_int, default=4096, help="address-space cap per worker process (0: no cap)"
    )
    g.add_argument("--percent", choices=("strip", "value"), default="strip", help="read 50%% as 50 (strip) or 0.5")
    g.add_argument("--keep-units", action="store_true", help="do not cut trailing unit words from answers")
    g.add_argument(
        "--last-number-fallback",
        action="store_true",
        help="take the last number in the text when no answer is marked (reward-hackable; off by default)",
    )


def _add_field_options(p: argparse.ArgumentParser, *, gold: bool) -> None:
    """The one field vocabulary (``prime_eval.fields``): the same flags and defaults in every command."""
    g = p.add_argument_group("input fields")
    g.add_argument("--id-field", help="column of the problem id (default: id, problem_id or task_id, first present)")
    g.add_argument("--response-field", help="column of the model response (default: response)")
    if gold:
        g.add_argument("--gold-field", default="gold", help="column of the reference answer (math)")


def _add_include_path(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--include-path",
        metavar="DIR",
        help="your own benchmark definitions: a folder of YAML files, or one YAML file (docs/benchmarks.md)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prime-eval", description="Evaluate reasoning models on math and code.")
    parser.add_argument("--version", action="version", version=f"prime-eval {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    score = sub.add_parser("score", help="verify a JSONL of existing responses against their golds")
    score.add_argument("--input", required=True, type=Path, help="JSONL (or .jsonl.gz), one response per line")
    score.add_argument("--output", required=True, type=Path, help="JSONL written row by row; a rerun resumes it")
    _add_field_options(score, gold=True)
    score.add_argument(
        "--benchmark",
        help="score code: rows carry the task id and a response, and run against the tests of that task of this "
        "code benchmark (humaneval, mbpp, leetcode, livecodebench; see `prime-eval ls`)",
    )
    score.add_argument(
        "--data-dir", type=Path, default=None, help="benchmark data folder (default: ../shared/benchmarks)"
    )
    score.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_verify_options(score)
    score.set_defaults(func=_cmd_score)

    run = sub.add_parser("run", help="generate and score benchmarks with a model (resumable)")
    run.add_argument("--model", help="Hugging Face id, local path, or the model name a server serves")
    run.add_argument("--backend", choices=("hf", "vllm", "openai", "file"), help="generation backend (default hf)")
    run.add_argument(
        "--model-args",
        default=None,
        help="backend options as k=v,k=v (base_url=..., tensor_parallel_size=2, path=...)",
    )
    run.add_argument("--benchmarks", help="comma-separated names (see `prime-eval ls`)")
    run.add_argument("--n", type=positive_int, help="samples per problem")
    run.add_argument("--temperature", type=nonnegative_float)
    run.add_argument("--top-p", type=probability)
    run.add_argument("--max-tokens", type=positive_int, help="default: each benchmark's own limit")
    run.add_argument("--seed", type=int)
    run.add_argument("--limit", type=positive_int, help="first N problems of each benchmark")
    run.add_argument("--output", help="run directory; rerunning the same command resumes it")
    run.add_argument("--prompt-mode", choices=("prime", "prime_newlines", "chat", "plain"))
    run.add_argument("--preset", help="named settings, e.g. prime-paper (greedy, n=1, PRIME's prompts and limits)")
    run.add_argument("--config", type=Path, help="YAML file of settings; flags override it")
    run.add_argument("--data-dir", help="local benchmark files (default: ../shared/benchmarks)")
    _add_include_path(run)
    run.add_argument("--data-source", choices=("auto", "local", "hf"))
    _add_field_options(run, gold=False)
    run.add_argument("--verify-workers", type=positive_int)
    run.add_argument("--verify-timeout", type=positive_float, dest="verify_timeout_s")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.set_defaults(func=_cmd_run)

    ls = sub.add_parser("ls", help="list the benchmarks")
    _add_include_path(ls)
    ls.set_defaults(func=_cmd_ls)

    from .bon.cli import add_bon_arguments, cmd_bon
    from .report.cli import add_report_arguments, cmd_report
    from .rewards.step_eval import add_step_eval_arguments, cmd_step_eval

    # Commands whose flags live with their feature.
    for name, add_arguments, command, about in (
        ("bon", add_bon_arguments, cmd_bon, "Best-of-N bench of a reward model over candidate pools"),
        ("step-eval", add_step_eval_arguments, cmd_step_eval,
         "ProcessBench-style first-error evaluation of a process reward model"),
        ("report", add_report_arguments, cmd_report,
         "leaderboard of runs beside published scores; --compare for two runs"),
    ):  # fmt: skip
        feature = sub.add_parser(name, help=about)
        add_arguments(feature)
        feature.set_defaults(func=command)

    lm = sub.add_parser("lm-eval-tasks", help="write prime's benchmarks as lm-evaluation-harness tasks")
    lm.add_argument("--output", required=True, type=Path, help="task folder for `lm_eval --include_path`")
    lm.add_argument("--benchmarks", default=None, help="comma-separated names (default: all)")
    lm.add_argument(
        "--data-dir", type=Path, default=None, help="local benchmark files (default: ../shared/benchmarks)"
    )
    _add_include_path(lm)
    lm.set_defaults(func=_cmd_lm_eval_tasks)
    return parser


def _cmd_lm_eval_tasks(args: argparse.Namespace) -> int:
    from .integrations.lm_eval_tasks import write_task_dir

    names = write_task_dir(args.output, args.benchmarks, args.data_dir, args.include_path)
    print(f"wrote {len(names)} tasks to {args.output}: {', '.join(names)}")
    print(f"run: lm_eval --model hf --model_args pretrained=MODEL --include_path {args.output} --tasks {names[0]}"
          + (" --confirm_run_unsafe_code" if any(n in names for n in ("prime_humaneval", "prime_mbpp")) else ""))  # fmt: skip
    return 0


def _parse_model_args(text: str | None) -> dict:
    if not text:
        return {}
    out = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--model-args: expected key=value, got {item!r}")
        out[key.strip()] = _literal(value.strip())
    return out


def _literal(value: str):
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(value.lower(), value)


def _cmd_run(args: argparse.Namespace) -> int:
    from prime_common.typed_config import given, merge

    from .run_config import ConfigError, RunConfig, build_config
    from .runner import run_eval

    flags = given(args, RunConfig)  # the flags named as settings (--top-p: top_p), those given
    model_args = _parse_model_args(args.model_args)
    for key in ("id_field", "response_field"):  # the responses file's columns (--backend file)
        if getattr(args, key) is not None:
            model_args[key] = getattr(args, key)
    if model_args:
        flags["backend_options"] = model_args
    config = build_config(merge(flags, args.overrides), args.config)
    if config.backend != "file" and (args.id_field or args.response_field):
        raise ConfigError("--id-field and --response-field name the columns of a responses file: --backend file")
    results = run_eval(config, progress=not args.quiet)
    _print_results(results)
    print(f"wrote {Path(config.output) / 'results.json'}")
    return 0


def _print_results(results: dict) -> None:
    from .console import pct, pm

    print("| benchmark | problems | samples | avg@n | stderr | pass@n | maj@n | truncated |")
    print("|---|---|---|---|---|---|---|---|")
    notes = []
    for name, r in results["benchmarks"].items():
        m = r["metrics"]
        n = r["sampling"]["n"]
        cut = r.get("truncated", 0)
        print(f"| {name} | {r['num_problems']} | {r['num_samples']} | {pct(m['avg']['mean'])} | "
              f"{pm(m['avg']['stderr'])} | {pct(m.get(f'pass@{n}', {}).get('mean'))} | "
              f"{pct(m.get(f'maj@{n}', {}).get('mean'))} | {cut} ({pct(cut / max(r['num_samples'], 1))}) |")  # fmt: skip
        limit = r.get("generation_limit") or {}
        if limit.get("capped"):
            notes.append(f"{name}: generation capped at the model's context of {limit['context']} tokens "
                         f"(the benchmark asks for {limit['requested']})")  # fmt: skip
        if cut:
            notes.append(f"{name}: {cut} of {r['num_samples']} responses hit the token limit before finishing; "
                         "a cut response usually scores as wrong (raise --max-tokens if the model allows)")  # fmt: skip
    if results.get("paper_average"):
        pa = results["paper_average"]
        print(f"paper average over {', '.join(pa['benchmarks'])}: {pct(pa['avg'])}")
    for note in notes:
        print(f"note: {note}")


def _cmd_ls(args: argparse.Namespace) -> int:
    from benchmarks.registry import groups, registry

    for name, d in registry(args.include_path).items():
        source = d.data.hf_path or "local only"
        print(f"{name:<15} {d.verifier:<5} {source:<32} {d.description}")
    for name, g in groups().items():
        print(f"{name:<15} group {', '.join(g.benchmarks)}: {g.description}")
    return 0


def _math_verifier(args: argparse.Namespace):
    from .verify import get_verifier
    from .verify.extract import ExtractionConfig

    extraction = ExtractionConfig(last_number_fallback=args.last_number_fallback)
    return get_verifier("math", extraction=extraction, strip_units=not args.keep_units, percent=args.percent)


def _code_scoring(args: argparse.Namespace, fields):
    from .code_scoring import ID_FIELD, load_code_tasks, row_to_check
    from .fields import ID_NAMES, did_you_mean
    from .verify import get_verifier

    tasks = load_code_tasks(args.benchmark, args.data_dir)  # UnknownBenchmark is a UserError: main reports it

    def to_check(row, where):
        id_name = fields.id_name(row)
        if id_name is None or fields.response not in row:
            wanted = fields.id_wanted() if id_name is None else repr(fields.response)
            raise ValueError(f"{where}: missing field {wanted}" + did_you_mean(fields.id or "id", row))
        return row_to_check({ID_FIELD: row[id_name], "response": row[fields.response]}, tasks, where=where)

    key_fields = (fields.id,) if fields.id else ID_NAMES
    # A code check runs outside the verify pool, so --timeout bounds its sandbox run instead.
    settings = {"timeout_s": args.timeout} if args.timeout else {}
    return get_verifier("code", **settings), to_check, (*key_fields, fields.response)


def _cmd_score(args: argparse.Namespace) -> int:
    from .fields import Fields
    from .scoring import field_check, score_file
    from .verify import DEFAULT_TIMEOUT_S, verify_batch

    if args.input.resolve() == args.output.resolve():
        raise UserError("--output must differ from --input")
    fields = Fields(args.id_field, args.response_field or "response", args.gold_field)
    if args.benchmark:
        verifier, to_check, key_fields = _code_scoring(args, fields)
    else:
        verifier = _math_verifier(args)
        to_check = field_check(fields.response, fields.gold)
        key_fields = (fields.response, fields.gold, *((fields.id,) if fields.id else ()))
    timeout = args.timeout or DEFAULT_TIMEOUT_S

    def verify(v, responses, references, metas):
        return verify_batch(
            v, responses, references, metas, workers=args.workers, timeout_s=timeout, memory_mb=args.memory_mb,
            progress=False,
        )  # fmt: skip

    summary = score_file(
        args.input, args.output, verifier, verify, to_check, key_fields=key_fields, progress=not args.quiet
    )
    print(summary.render())
    print(f"wrote {args.output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from prime_common.typed_config import parse_overrides

    parser = build_parser()
    # `run` takes any setting as --key value or --section.key value (--backend_options.base_url URL), as prime-train
    args, rest = parser.parse_known_args(argv)
    if rest and getattr(args, "func", None) is not _cmd_run:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        args.overrides = parse_overrides(rest)
        return args.func(args)
    except (UserError, OSError) as exc:  # OSError: an environment fault (unwritable or full output), exit 1
        return report(f"prime-eval {args.command}", exc)
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
