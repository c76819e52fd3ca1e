"""lm-evaluation-harness results files as runs.

``lm_eval --output_path OUT`` writes ``OUT/<model>/results_<time>.json`` (``results`` {task: {"metric,filter":
value, "metric_stderr,filter": ...}}, ``n-samples``, ``config``, ``configs``) and, with ``--log_samples``,
``samples_<task>_<time>.jsonl`` beside it. Tasks written by ``prime-eval lm-eval-tasks`` (``prime_<benchmark>``)
become prime's benchmark of that name, so they line up with harness runs and references; any other task keeps
its own name and its first metric.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from .runs import BenchResult, Metric, ReportError, Run, SampleFiles, Settings, Verdict

# lm-eval's generate_until default when a task sets no max_gen_toks (HFLM, vLLM and the API models agree).
LM_EVAL_DEFAULT_MAX_GEN_TOKS = 256
_NOT_METRICS = {"name", "alias", "sample_len", "samples"}
_ANSWER_CHARS = 80


def is_lm_eval_results(obj: dict[str, Any]) -> bool:
    return isinstance(obj.get("results"), dict) and any(k in obj for k in ("configs", "n-samples", "versions"))


def find_lm_eval_results(folder: Path) -> list[Path]:
    """Every ``results_*.json`` in ``folder`` or in one model subfolder (lm-eval's layout), oldest first: each
    ``lm_eval`` invocation writes one, often for other tasks than the last."""
    files = sorted(folder.glob("results_*.json"))
    if not files:
        files = sorted(folder.glob("*/results_*.json"))
        parents = sorted({f.parent.name for f in files})
        if len(parents) > 1:
            raise ReportError(
                f"{folder}: lm-eval results of several models ({', '.join(parents)}); name one folder or file"
            )
    # lm-eval stamps each file with an ISO-like time, so the name order is the time order.
    return files


def merge_lm_eval_runs(runs: list[Run]) -> Run:
    """One run from the results files of one folder (oldest first): each task from the newest file that has it."""
    newest = runs[-1]
    benchmarks: dict[str, BenchResult] = {}
    files: dict[str, Path] = {}
    for run in runs:  # later files overwrite earlier ones task by task
        benchmarks.update(run.benchmarks)
        files = {**{k: v for k, v in files.items() if k not in run.benchmarks}, **run.samples.files}
    info = {**newest.info, "results_files": [str(r.path) for r in runs]} if len(runs) > 1 else newest.info
    return replace(newest, benchmarks=benchmarks, samples=SampleFiles("lm-eval", files), info=info)


def _prime_tasks() -> dict[str, str]:
    from benchmarks.registry import registry

    from ..integrations.lm_eval_tasks import task_name

    return {task_name(b): b for b in registry()}


def _primary_metric(task: str, values: dict[str, Any], prime: bool) -> str | None:
    if prime and isinstance(values.get("acc,none"), (int, float)):
        return "acc,none"
    for key, value in values.items():
        if key not in _NOT_METRICS and "_stderr," not in key and isinstance(value, (int, float)):
            return key
    return None


def _prompt_mode(obj: dict[str, Any]) -> str:
    from ..prompts import PRIME_SYSTEM

    config = obj.get("config") or {}
    chat = bool(obj.get("chat_template")) or bool(config.get("apply_chat_template"))
    if not chat:
        return "plain"
    system = obj.get("system_instruction")
    if system == PRIME_SYSTEM.replace("\n", "\\n"):
        return "prime"
    return "prime_newlines" if system == PRIME_SYSTEM else "chat"


def _settings(task_config: dict[str, Any], prompt: str) -> Settings:
    gen = task_config.get("generation_kwargs") or {}
    sampled = bool(gen.get("do_sample", False))
    temperature = float(gen.get("temperature", 1.0)) if sampled else 0.0  # transformers' default when sampling
    return Settings(
        temperature=temperature,
        top_p=float(gen["top_p"]) if sampled and gen.get("top_p") is not None else None,
        n=int(task_config.get("repeats") or 1),
        prompt=prompt,
        max_tokens=int(gen.get("max_gen_toks", LM_EVAL_DEFAULT_MAX_GEN_TOKS)),
    )


def _model_label(obj: dict[str, Any]) -> str:
    config = obj.get("config") or {}
    args = config.get("model_args")
    if isinstance(args, str):
        args = dict(part.split("=", 1) for part in args.split(",") if "=" in part)
    if isinstance(args, dict) and args.get("pretrained"):
        return (
            Path(str(args["pretrained"])).name if str(args["pretrained"]).startswith("/") else str(args["pretrained"])
        )
    return str(obj.get("model_name") or config.get("model") or "?")


def load_lm_eval(path: Path, obj: dict[str, Any], read_jsonl: Callable[[Path], list[dict]]) -> Run:
    prime_tasks = _prime_tasks()
    configs = obj.get("configs") or {}
    counts = obj.get("n-samples") or {}
    prompt = _prompt_mode(obj)
    stamp = path.stem.removeprefix("results_")
    benchmarks: dict[str, BenchResult] = {}
    sample_files: dict[str, Path] = {}
    for task, values in obj["results"].items():
        if not isinstance(values, dict):
            raise ReportError(f"{path}: results[{task!r}] is not a mapping of metrics")
        name = prime_tasks.get(task, task)
        metric = _primary_metric(task, values, task in prime_tasks)
        if metric is None:
            continue  # a group header with no score of its own
        base, _, flt = metric.partition(",")
        stderr = values.get(f"{base}_stderr,{flt}")
        count = counts.get(task) or {}
        task_config = configs.get(task) or {}
        settings = _settings(task_config, prompt)
        problems = count.get("effective")
        benchmarks[name] = BenchResult(
            name, {"avg": Metric(float(values[metric]), float(stderr) if isinstance(stderr, (int, float)) else None)},
            problems, problems * settings.n if problems is not None and settings.n else None, settings,
            full_size=count.get("original"), data_sha256=(task_config.get("metadata") or {}).get("prime_data_sha256"),
            source_name=task if name != task else None, metric_name=metric,
        )  # fmt: skip
        samples = path.parent / f"samples_{task}_{stamp}.jsonl"
        if samples.is_file():
            sample_files[name] = samples
    if not benchmarks:
        raise ReportError(f"{path}: the lm-eval results hold no task with a numeric metric")
    info = {k: obj[k] for k in ("lm_eval_version", "git_hash", "date") if obj.get(k) is not None}
    return Run(
        label=path.parent.name, path=path, kind="lm-eval", model=_model_label(obj), benchmarks=benchmarks,
        samples=SampleFiles("lm-eval", sample_files), info=info,
    )  # fmt: skip


def lm_eval_verdicts(rows: list[dict[str, Any]], bench: BenchResult) -> dict[str, list[Verdict]]:
    """One verdict per document: lm-eval's per-document metric (already averaged over repeats)."""
    from ..verify.extract import extract_answer

    metric, _, flt = (bench.metric_name or "acc,none").partition(",")
    out: dict[str, list[Verdict]] = {}
    for row in rows:
        if row.get("filter", flt) != flt or not isinstance(row.get(metric), (int, float)):
            continue
        doc = row.get("doc") or {}
        pid = str(doc["id"]) if isinstance(doc, dict) and "id" in doc else str(row.get("doc_id"))
        response = row.get("filtered_resps")
        text = response[0] if isinstance(response, list) and response and isinstance(response[0], str) else ""
        if isinstance(doc, dict) and doc.get("verifier") == "math":
            answer = extract_answer(text).answer
        else:
            answer = " ".join(text.split())[:_ANSWER_CHARS] or None
        score = float(row[metric])
        out[pid] = [Verdict(pid, 0, score >= 1.0, score, answer)]
    return out
