"""prime's benchmarks as lm-evaluation-harness tasks: ``prime-eval lm-eval-tasks --output DIR`` writes one YAML
per benchmark plus its data, then ``lm_eval --include_path DIR --tasks prime_math500 ...`` runs it with prime's
prompts and verifier. Code tasks are marked ``unsafe_code`` (lm-eval's ``--confirm_run_unsafe_code`` opt-in),
though the programs run in prime's sandbox."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import yaml

from benchmarks.loading import load_benchmark
from benchmarks.registry import parse_benchmark_list, registry

from ..prompts import SUFFIXES

HOOK_MODULE = "prime_lm_eval_hooks"


def task_name(benchmark: str) -> str:
    return f"prime_{benchmark}"


def write_task_dir(
    out: Path, benchmarks: str | None = None, data_dir: Path | None = None, include_path: str | None = None
) -> list[str]:
    """Write the tasks (all benchmarks by default) into ``out``; returns the task names."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "data").mkdir(exist_ok=True)
    (out / f"{HOOK_MODULE}.py").write_text(
        "# Written by prime-eval lm-eval-tasks: lm-eval resolves `!function` hooks beside the task YAML.\n"
        "from prime_eval.integrations.lm_eval_hooks import process_results  # noqa: F401\n"
    )
    definitions = (
        parse_benchmark_list(benchmarks, include_path) if benchmarks else list(registry(include_path).values())
    )
    names = []
    for d in definitions:
        loaded = load_benchmark(d, data_dir=data_dir)
        data = out / "data" / f"{d.name}.jsonl"
        with data.open("w") as f:
            for p in loaded.problems:
                ref = dataclasses.asdict(p.reference) if dataclasses.is_dataclass(p.reference) else p.reference
                f.write(
                    json.dumps({"id": p.id, "question": p.question, "reference": ref, "verifier": d.verifier}) + "\n"
                )
        task = {
            "task": task_name(d.name),
            "dataset_path": "json",
            "dataset_kwargs": {"data_files": {"test": str(data.resolve())}},
            "test_split": "test",
            "output_type": "generate_until",
            "doc_to_text": "{{question}}" + SUFFIXES[d.prompt],
            "doc_to_target": "",
            "process_results": f"!function {HOOK_MODULE}.process_results",
            "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
            "generation_kwargs": {"until": [], "do_sample": False, "max_gen_toks": d.max_tokens},
            "metadata": {"version": 1.0, "prime_data_sha256": loaded.source["sha256"]},
        }
        if d.verifier == "code":
            task["unsafe_code"] = True
        text = yaml.safe_dump(task, sort_keys=False, allow_unicode=True)
        # yaml cannot emit lm-eval's custom tag from a plain string; write it unquoted.
        text = text.replace(f"'!function {HOOK_MODULE}.process_results'", f"!function {HOOK_MODULE}.process_results")
        (out / f"{task_name(d.name)}.yaml").write_text(text)
        names.append(task_name(d.name))
    return names
