"""prime's benchmarks as lm-evaluation-harness tasks: ``prime-eval lm-eval-tasks --output DIR`` writes one YAML
per benchmark plus its data, then ``lm_eval --include_path DIR --tasks prime_math500 ...`` runs it with prime's
prompts and verifier. Code tasks are marked ``unsafe_code`` (lm-eval's ``--confirm_run_unsafe_code`` opt-in),
though the programs run in prime's sandbox.

The folder is self-contained and movable: a task reads its documents through the hook module beside it
(``custom_dataset``), relative to that module's own location, so no YAML names a path of the machine that wrote
it. Every benchmark is loaded before anything is written: one whose data cannot be read is skipped with a
warning when all benchmarks were asked for, and stops the command before it writes anything when it was named.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import yaml

from benchmarks.loading import DataError, LoadedBenchmark, Problem, load_benchmark
from benchmarks.registry import groups, parse_benchmark_list, registry
from prime_common.jsonl import json_line, write_atomic

from ..prompts import SUFFIXES

HOOK_MODULE = "prime_lm_eval_hooks"
_HOOK_SOURCE = """\
# Written by prime-eval lm-eval-tasks: lm-eval resolves `!function` hooks beside the task YAML.
from pathlib import Path

from prime_eval.integrations.lm_eval_hooks import load_docs_from, process_results  # noqa: F401


def load_docs(prime_benchmark, **_):
    return load_docs_from(Path(__file__).with_name("data") / f"{prime_benchmark}.jsonl")
"""


def task_name(benchmark: str) -> str:
    return f"prime_{benchmark}"


def _load_all(
    benchmarks: str | None, data_dir: Path | None, include_path: str | None
) -> tuple[list[LoadedBenchmark], list[str]]:
    named = benchmarks is not None
    definitions = parse_benchmark_list(benchmarks, include_path) if named else list(registry(include_path).values())
    loaded, skipped = [], []
    for d in definitions:
        try:
            loaded.append(load_benchmark(d, data_dir=data_dir))
        except DataError as exc:
            if named:
                raise
            skipped.append(str(exc))
    if not loaded:
        raise DataError("no benchmark's data could be read: " + "; ".join(skipped))
    return loaded, skipped


def _task(lb: LoadedBenchmark) -> dict:
    d = lb.definition
    task = {
        "task": task_name(d.name),
        "custom_dataset": f"!function {HOOK_MODULE}.load_docs",
        "dataset_kwargs": {"prime_benchmark": d.name},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": "{{question}}" + SUFFIXES[d.prompt],
        "doc_to_target": "",
        "process_results": f"!function {HOOK_MODULE}.process_results",
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
        "generation_kwargs": {"until": [], "do_sample": False, "max_gen_toks": d.max_tokens},
        "metadata": {"version": 1.0, "prime_data_sha256": lb.source["sha256"]},
    }
    if d.verifier == "code":
        task["unsafe_code"] = True
    return task


def _yaml(task: dict) -> str:
    text = yaml.safe_dump(task, sort_keys=False, allow_unicode=True)
    # yaml cannot emit lm-eval's custom tag from a plain string; write it unquoted.
    for hook in ("load_docs", "process_results"):
        text = text.replace(f"'!function {HOOK_MODULE}.{hook}'", f"!function {HOOK_MODULE}.{hook}")
    return text


def write_task_dir(
    out: Path, benchmarks: str | None = None, data_dir: Path | None = None, include_path: str | None = None
) -> list[str]:
    """Write the tasks (all benchmarks by default) into ``out``, and the groups all of whose members are there;
    returns the task names, then the group names."""
    loaded, skipped = _load_all(benchmarks, data_dir, include_path)
    for reason in skipped:
        print(f"prime-eval lm-eval-tasks: warning: skipped, data unavailable: {reason}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    (out / "data").mkdir(exist_ok=True)
    (out / f"{HOOK_MODULE}.py").write_text(_HOOK_SOURCE)
    names = []
    for lb in loaded:
        d = lb.definition
        write_atomic(out / "data" / f"{d.name}.jsonl", "".join(json_line(_doc(p, d.verifier)) for p in lb.problems))
        (out / f"{task_name(d.name)}.yaml").write_text(_yaml(_task(lb)))
        names.append(task_name(d.name))
    return names + _write_groups(out, names)


def _doc(p: Problem, verifier: str) -> dict:
    ref = dataclasses.asdict(p.reference) if dataclasses.is_dataclass(p.reference) else p.reference
    return {"id": p.id, "question": p.question, "reference": ref, "verifier": verifier}


def _write_groups(out: Path, written: list[str]) -> list[str]:
    """prime's groups whose every member was written, as lm-eval groups (``--tasks prime_paper_math``): the
    unweighted mean of the members, as the paper averages its benchmarks."""
    names = []
    for g in groups().values():
        members = [task_name(b) for b in g.benchmarks]
        if set(members) <= set(written):
            group = {"group": task_name(g.name), "task": members, "metadata": {"version": 1.0},
                     "aggregate_metric_list": [{"metric": "acc", "aggregation": "mean", "weight_by_size": False}]}  # fmt: skip
            (out / f"{task_name(g.name)}.yaml").write_text(yaml.safe_dump(group, sort_keys=False))
            names.append(task_name(g.name))
    return names
