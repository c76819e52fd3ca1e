"""Runs from disk: a harness run folder (``results.json`` + ``samples/``), a training run folder
(``eval/step-N/results.json`` per checkpoint + ``metrics.jsonl``), or an lm-evaluation-harness results file.

Everything here only reads: a training run may still be writing, so its logs are never repaired in place (prime's
``jsonl.read_repairing`` would truncate a torn last line, which is the writer's job, not a report's).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from prime_common import jsonl

from .lmeval_import import find_lm_eval_results, is_lm_eval_results, load_lm_eval, merge_lm_eval_runs
from .runs import BenchResult, Checkpoint, Metric, ReportError, Run, SampleFiles, Settings, Verdict

_STEP_DIR = re.compile(r"^step-(\d+)$")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``, or a one-line ReportError saying why not."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not UTF-8 text") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise ReportError(f"{path}: expected a JSON object, found {type(obj).__name__}")
    return obj


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Complete rows of a JSONL file; a torn or garbled line (a writer killed mid-line) is skipped, not repaired."""
    try:
        return jsonl.read_jsonl(path, skip_bad=True)
    except OSError as exc:
        raise ReportError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:  # damaged compression
        raise ReportError(str(exc)) from None


def load_run(path: Path) -> Run:
    """Whatever ``path`` holds, as a Run (label = the folder's name; :func:`load_runs` makes labels unique)."""
    if not path.exists():
        raise ReportError(f"{path}: no such file or folder")
    if path.is_file():
        obj = read_json(path)
        if is_lm_eval_results(obj):
            return load_lm_eval(path, obj, read_jsonl)
        if path.name == "results.json":
            return _harness_run(path.parent, obj, path)
        raise ReportError(f"{path}: neither a prime-eval results.json nor an lm-evaluation-harness results file")
    if (path / "results.json").is_file():
        return _harness_run(path, read_json(path / "results.json"), path)
    steps = _checkpoint_dirs(path)
    if steps:
        return _training_run(path, steps)
    lm_eval_files = find_lm_eval_results(path)
    if lm_eval_files:
        return merge_lm_eval_runs([load_run(f) for f in lm_eval_files])
    if (path / "config.json").is_file():
        raise ReportError(f"{path}: an unfinished run (config.json but no results.json); rerun `prime-eval run` on it")
    if (path / "metrics.jsonl").is_file() or (path / "checkpoints").is_dir():
        raise ReportError(f"{path}: a training run with no evaluated checkpoint yet (no eval/step-*/results.json)")
    raise ReportError(
        f"{path}: not a run (no results.json, eval/step-*/results.json or lm-eval results_*.json inside)"
    )


def load_runs(paths: list[Path]) -> list[Run]:
    runs = [load_run(p) for p in paths]
    return [replace(r, label=label) for r, label in zip(runs, unique_labels(runs))]


def unique_labels(runs: list[Run]) -> list[str]:
    """The shortest path tails that tell the runs apart: ``run`` twice becomes ``a/run`` and ``b/run``."""
    candidates = [_label_candidates(r) for r in runs]
    deepest = max(len(c) for c in candidates) if candidates else 0
    for depth in range(deepest):
        labels = [c[min(depth, len(c) - 1)] for c in candidates]
        if len(set(labels)) == len(labels):
            return labels
    return [f"{c[-1]} #{i + 1}" for i, c in enumerate(candidates)]  # the same path twice


def _label_candidates(run: Run) -> list[str]:
    parts = [p for p in run.path.resolve().parts if p not in ("/", "")]
    if run.kind == "lm-eval" and run.path.is_file():
        # lm-eval names its output folder after the model; the timestamped file name is a last resort.
        parts = parts[:-1] + [run.path.stem]
        tails = ["/".join(parts[-k - 1 : -1]) for k in range(1, len(parts))] + ["/".join(parts)]
        return [t for t in tails if t] or [run.path.stem]
    return ["/".join(parts[-k:]) for k in range(1, len(parts) + 1)] or [str(run.path)]


def _model_label(config: dict[str, Any]) -> str:
    model = str(config.get("model") or "?")
    if config.get("backend") == "file" and "path" not in (config.get("backend_options") or {}):
        return f"file:{Path(model).name}"  # --model named the responses file
    return Path(model).name if model.startswith("/") else model


def harness_benchmarks(results: dict[str, Any], where: Path) -> dict[str, BenchResult]:
    benches = results.get("benchmarks")
    if not isinstance(benches, dict) or not isinstance(results.get("config", {}), dict):
        raise ReportError(f"{where}: not a prime-eval results file (no 'benchmarks' mapping)")
    config = results.get("config") or {}
    out = {}
    for name, r in benches.items():
        try:
            metrics = {k: Metric(float(v["mean"]), _float_or_none(v.get("stderr"))) for k, v in r["metrics"].items()}
            metrics["avg"]  # noqa: B018 - the headline score every report cell needs
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ReportError(
                f"{where}: benchmark {name!r} has no readable metrics ({type(exc).__name__}: {exc})"
            ) from None
        sampling = r.get("sampling") or {}
        data = r.get("data") or {}
        settings = Settings(
            temperature=_float_or_none(sampling.get("temperature", config.get("temperature"))),
            top_p=_float_or_none(sampling.get("top_p", config.get("top_p"))),
            n=sampling.get("n", config.get("n")),
            prompt=(r.get("prompt") or {}).get("mode", config.get("prompt_mode")),
            max_tokens=sampling.get("max_tokens", config.get("max_tokens")),
        )
        out[name] = BenchResult(
            name, metrics, r.get("num_problems"), r.get("num_samples"), settings,
            full_size=data.get("rows"), data_sha256=data.get("sha256"),
        )  # fmt: skip
    if not out:
        raise ReportError(f"{where}: the results hold no benchmark")
    return out


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None  # lm-eval writes "N/A" for a missing standard error


def _info(results: dict[str, Any]) -> dict[str, Any]:
    packages = results.get("packages") or {}
    keep = {k: results[k] for k in ("started_at", "finished_at") if k in results}
    keep.update({k: packages[k] for k in ("prime-suite", "prime_git") if packages.get(k)})
    return keep


def _harness_run(folder: Path, results: dict[str, Any], named: Path) -> Run:
    where = folder / "results.json"
    benchmarks = harness_benchmarks(results, where)
    samples = {b: folder / "samples" / f"{b}.jsonl" for b in benchmarks}
    return Run(
        label=folder.resolve().name, path=named, kind="harness", model=_model_label(results.get("config") or {}),
        benchmarks=benchmarks, samples=SampleFiles("prime", samples), info=_info(results),
    )  # fmt: skip


def _checkpoint_dirs(folder: Path) -> list[tuple[int, Path]]:
    found = []
    for results in (folder / "eval").glob("step-*/results.json"):
        m = _STEP_DIR.match(results.parent.name)
        if m and results.is_file():
            found.append((int(m.group(1)), results.parent))
    return sorted(found)


def _training_run(folder: Path, steps: list[tuple[int, Path]]) -> Run:
    checkpoints = []
    latest_results: dict[str, Any] = {}
    for step, ckpt in steps:
        latest_results = read_json(ckpt / "results.json")
        checkpoints.append(Checkpoint(step, ckpt, harness_benchmarks(latest_results, ckpt / "results.json")))
    last = checkpoints[-1]
    log = folder / "metrics.jsonl"
    train_log = tuple(r for r in read_jsonl(log) if isinstance(r.get("step"), int)) if log.is_file() else ()
    return Run(
        label=folder.resolve().name, path=folder, kind="training",
        model=_model_label(latest_results.get("config") or {}), benchmarks=last.benchmarks,
        samples=SampleFiles("prime", {b: last.path / "samples" / f"{b}.jsonl" for b in last.benchmarks}),
        step=last.step, checkpoints=tuple(checkpoints), train_log=train_log, info=_info(latest_results),
    )  # fmt: skip


def load_verdicts(run: Run, benchmark: str) -> dict[str, list[Verdict]] | None:
    """Problem id -> that problem's scored samples (by sample index); None when the run kept no samples."""
    path = run.samples.files.get(benchmark)
    if path is None or not path.is_file():
        return None
    if run.samples.format == "lm-eval":
        from .lmeval_import import lm_eval_verdicts

        return lm_eval_verdicts(read_jsonl(path), run.benchmarks[benchmark])
    by_problem: dict[str, dict[int, Verdict]] = {}
    for row in read_jsonl(path):
        try:
            details = row.get("verdict") if isinstance(row.get("verdict"), dict) else {}
            written = details.get("extracted") if isinstance(details.get("extracted"), str) else None
            v = Verdict(
                str(row["id"]), int(row.get("sample", 0)), bool(row["correct"]), float(row["score"]), row.get("answer"),
                written,
            )  # fmt: skip
        except (KeyError, TypeError, ValueError):
            raise ReportError(f"{path}: a row without id/correct/score: not a prime samples file") from None
        by_problem.setdefault(v.problem_id, {})[v.sample] = v  # a resumed run may repeat a row; the last wins
    return {pid: [s[j] for j in sorted(s)] for pid, s in by_problem.items()}
