"""``prime-eval run``: benchmarks -> prompts -> backend -> verifier -> metrics -> results, resumable.

Layout of a run directory::

    config.json                   the settings; a resumed run must match what shapes a sample
    generations/<benchmark>.jsonl one row per generated sample, appended as each finishes
    samples/<benchmark>.jsonl     one row per scored sample (prompt, response, answer, verdict, timing)
    results.json                  scores with errors and everything needed to reproduce them

A run killed at any point (SIGKILL included) and started again with the same command generates only the
samples missing from ``generations/`` and scores only those missing from ``samples/``; so does one stopped by a
full disk, once there is room. One run at a time may write a folder (``output_lock``).
"""

from __future__ import annotations

import json
import sys
import threading
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.loading import LoadedBenchmark, load_benchmark
from benchmarks.registry import groups, parse_benchmark_list
from prime_common.errors import UserError
from prime_common.jsonl import Appender, json_document, prepare_output_dir, read_repairing, write_atomic

from .backends.base import Backend, Completion, Request, SamplingConfig, accepts_token_progress, context_length
from .output_lock import hold_output
from .prompts import PromptTemplate
from .provenance import package_versions, utc_now
from .run_config import ConfigError, RunConfig
from .verify import DEFAULT_TIMEOUT_S, get_verifier, verify_batch

VERIFY_CHUNK = 256
STALL_WARNING_S = 600.0


class RunError(UserError, RuntimeError):
    """The run cannot go on (settings differ from the run in the output folder, samples failed): for the user."""

    exit_status = 1  # the output folder's state, not the settings as given: another --output or a rerun helps


def _check_config(out: Path, config: RunConfig) -> None:
    """A resumed run must match what shapes a sample; checked before the (slow) backend start."""
    path = out / "config.json"
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            old = None
        if not isinstance(old, dict):
            raise RunError(f"{path} is damaged (not a JSON object); delete it to start this run again")
        new = config.identity()
        diff = {k: (old.get(k), v) for k, v in new.items() if old.get(k) != v}
        if diff:
            changes = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in diff.items())
            raise RunError(f"{out} holds a run with other settings ({changes}); use another --output")


def _write_config(out: Path, config: RunConfig) -> None:
    prepare_output_dir(out)
    write_atomic(out / "config.json", json_document(config.to_dict()))


def open_run(out: Path, config: RunConfig, backend: Backend | None = None) -> Backend:
    """Check the settings of a run already in ``out``, start the backend (unless given), then write config.json:
    a start that fails (no such model, out of memory) leaves no run behind."""
    _check_config(out, config)
    if backend is None:
        from .backends import get_backend

        check_local_model(config)
        options = dict(config.backend_options)
        if config.backend == "file":  # --model names the responses file, unless path= gives it and model is a label
            options.setdefault("path", config.model)
        else:
            options["model"] = config.model
        backend = get_backend(config.backend, **options)
    _write_config(out, config)
    return backend


def check_local_model(config: RunConfig) -> None:
    """A model that names a local folder which is not there is one line naming the path, before anything starts
    (a Hub id is left to the backend)."""
    if config.backend not in ("hf", "vllm"):
        return
    from .rewards.formatting import check_model_path
    from .scoring import InputError

    try:
        check_model_path(config.model, "--model")
    except InputError as exc:
        raise ConfigError(str(exc)) from None


class _StallWatch:
    """Warns when no sample has finished for ``after_s`` seconds: a hung server or a runaway generation."""

    def __init__(self, name: str, after_s: float):
        self.name, self.after_s = name, after_s
        self.last = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def tick(self) -> None:
        self.last = time.monotonic()

    def _watch(self) -> None:
        while not self._stop.wait(min(30.0, self.after_s / 4)):
            idle = time.monotonic() - self.last
            if idle > self.after_s:
                warnings.warn(
                    f"{self.name}: no sample finished for {idle:.0f} s; generation may be stalled", stacklevel=1
                )
                self.last = time.monotonic()

    def stop(self) -> None:
        self._stop.set()


def _bar(total: int, desc: str, show: bool):
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="sample", dynamic_ncols=True)


class _TokenCount:
    """Shows the tokens generated so far on the samples bar, at most twice a second: a long batch returns all its
    samples at once, and the bar would otherwise sit still until then."""

    def __init__(self, bar):
        self.bar, self.total, self.shown_at = bar, 0, 0.0

    def __call__(self, tokens: int) -> None:
        self.total += tokens
        now = time.monotonic()
        if now - self.shown_at >= 0.5:
            self.shown_at = now
            self.bar.set_postfix_str(f"{self.total} tokens", refresh=True)


def generation_limit(requested: int, context: int | None) -> dict[str, Any]:
    """The new-token limit a benchmark runs with: what was asked, capped at the model's context where it is
    known (no backend can generate past it, and asking only makes every long response a truncated one)."""
    used = requested if context is None else min(requested, context)
    return {"requested": requested, "context": context, "max_tokens": used, "capped": used < requested}


def _plan(lb: LoadedBenchmark, config: RunConfig, backend: Backend, out: Path) -> dict[str, Any]:
    """One benchmark's share of the run's generation: its sampling (its own token limit), the samples already in
    ``generations/``, and requests for the missing ones."""
    d = lb.definition
    template = PromptTemplate(config.prompt_mode, d.prompt)
    limit = generation_limit(config.max_tokens or d.max_tokens, context_length(backend))
    if limit["capped"]:
        print(
            f"prime-eval run: {d.name}: max_tokens {limit['requested']} is past the model's context of "
            f"{limit['context']} tokens; generating at most {limit['context']} tokens less the prompt",
            file=sys.stderr,
        )
    sampling = SamplingConfig(
        n=config.n, temperature=config.temperature, top_p=config.top_p, max_tokens=limit["max_tokens"],
        seed=config.seed,
    )  # fmt: skip
    path = out / "generations" / f"{d.name}.jsonl"
    generated = {(r["id"], r["sample"]): r for r in read_repairing(path)}
    requests = []
    for p in lb.problems:
        missing = tuple(j for j in range(config.n) if (p.id, j) not in generated)
        if missing:
            meta = {"benchmark": d.name, "id": p.id}
            key = f"{d.name}/{p.id}"
            requests.append(Request(key, template.render(p.question), missing, meta, limit["max_tokens"]))
    return {"generated": generated, "sampling": sampling, "template": template, "limit": limit,
            "path": path, "requests": requests}  # fmt: skip


def generate(loaded: list[LoadedBenchmark], config: RunConfig, backend: Backend, out: Path, progress: bool) -> dict:
    """Every benchmark's missing samples in one backend call, as lm-eval pools requests: an engine batches AIME's 30
    prompts with MATH-500's 500 instead of running the small benchmark alone. Each sample is appended to its
    benchmark's ``generations/`` file as it arrives, so a rerun skips it. Returns each benchmark's plan."""
    plans = {lb.definition.name: _plan(lb, config, backend, out) for lb in loaded}
    requests = [r for plan in plans.values() for r in plan["requests"]]
    if not requests:
        return plans
    failures: list[str] = []
    appenders = {name: Appender(plan["path"]) for name, plan in plans.items() if plan["requests"]}
    bar = _bar(sum(len(r.samples) for r in requests), "generate", progress)
    watch = _StallWatch(", ".join(appenders), STALL_WARNING_S)

    def on_completion(request: Request, c: Completion) -> None:
        watch.tick()
        if bar is not None:
            bar.update(1)
        if c.finish_reason == "error":  # not saved: a rerun asks for it again
            failures.append(f"{request.key}#{c.sample}: {c.error}")
            return
        row = {"id": request.meta["id"], "sample": c.sample, "prompt": request.prompt, "response": c.text,
               "finish_reason": c.finish_reason, "tokens": c.tokens, "seconds": c.seconds}  # fmt: skip
        appenders[request.meta["benchmark"]].write(row)
        plans[request.meta["benchmark"]]["generated"][(row["id"], row["sample"])] = row

    # Requests carry their benchmark's own limit; the call's is the largest of them.
    sampling = max((plan["sampling"] for plan in plans.values()), key=lambda s: s.max_tokens)
    extra = {"on_tokens": _TokenCount(bar)} if bar is not None and accepts_token_progress(backend) else {}
    try:
        backend.generate(requests, sampling, on_completion, **extra)
    finally:
        watch.stop()
        for appender in appenders.values():
            appender.close()
        if bar is not None:
            bar.close()
    if failures:
        raise RunError(f"{len(failures)} samples failed to generate (rerun to retry): {failures[0]}")
    return plans


def _score(lb: LoadedBenchmark, generated: dict, config: RunConfig, out: Path, progress: bool) -> dict:
    d = lb.definition
    path = out / "samples" / f"{d.name}.jsonl"
    scored = {(r["id"], r["sample"]): r for r in read_repairing(path)}
    todo = [(p, j) for p in lb.problems for j in range(config.n) if (p.id, j) not in scored]
    verifier = get_verifier(d.verifier)
    timeout = config.verify_timeout_s or DEFAULT_TIMEOUT_S
    verify_s = 0.0
    if todo:
        appender = Appender(path)
        bar = _bar(len(todo), f"{d.name} verify", progress)
        try:
            for lo in range(0, len(todo), VERIFY_CHUNK):
                chunk = todo[lo : lo + VERIFY_CHUNK]
                gens = [generated[(p.id, j)] for p, j in chunk]
                t = time.perf_counter()
                verdicts = verify_batch(
                    verifier, [g["response"] for g in gens], [p.reference for p, _ in chunk],
                    workers=config.verify_workers, timeout_s=timeout, progress=False,
                )  # fmt: skip
                verify_s += time.perf_counter() - t
                for (p, j), g, v in zip(chunk, gens, verdicts):
                    row = {**g, "answer": v.answer, "correct": v.correct, "score": v.score,
                           "status": v.status.value, "verdict": dict(v.details)}  # fmt: skip
                    appender.write(row)
                    scored[(p.id, j)] = row
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            appender.close()
            if bar is not None:
                bar.close()
    return {"scored": scored, "verifier": verifier.describe(), "verify_s": verify_s}


def _benchmark_result(lb: LoadedBenchmark, n: int, gen: dict, scored: dict, verifier: dict) -> dict[str, Any]:
    from .metrics import SampleResult, score_benchmark

    rows = [[scored[(p.id, j)] for j in range(n)] for p in lb.problems]
    per_problem = [[SampleResult(r["score"], r["correct"], r["answer"]) for r in samples] for samples in rows]
    scores = score_benchmark(per_problem)
    flat = [r for samples in rows for r in samples]
    statuses: dict[str, int] = {}
    for r in flat:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return {
        "metrics": scores.to_dict(),
        "num_problems": len(rows),
        "num_samples": len(flat),
        "statuses": statuses,
        "truncated": sum(r.get("finish_reason") == "length" for r in flat),
        "generation_limit": gen["limit"],
        "sampling": asdict(gen["sampling"]),
        "prompt": {"mode": gen["template"].mode, "fingerprint": gen["template"].fingerprint()},
        "data": lb.source,
        "definition": lb.definition.path,
        "verifier": verifier,
    }


def run_eval(config: RunConfig, *, backend: Backend | None = None, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) an evaluation and write ``results.json``; returns the results."""
    out = Path(config.output)
    if backend is None:
        check_local_model(config)
    definitions = parse_benchmark_list(config.benchmarks, config.include_path)
    data_dir = Path(config.data_dir) if config.data_dir else None
    loaded = [load_benchmark(d, data_dir=data_dir, source=config.data_source, limit=config.limit) for d in definitions]
    with hold_output(out):  # a second run of this folder would generate every sample again
        return _run_locked(config, loaded, backend, progress)


def _run_locked(
    config: RunConfig, loaded: list[LoadedBenchmark], backend: Backend | None, progress: bool
) -> dict[str, Any]:
    out = Path(config.output)
    started = utc_now()
    backend = open_run(out, config, backend)
    per_benchmark = {}
    try:
        t0 = time.perf_counter()
        plans = generate(loaded, config, backend, out, progress)
        generate_s = time.perf_counter() - t0
        for lb in loaded:
            gen = plans[lb.definition.name]
            t1 = time.perf_counter()
            score = _score(lb, gen["generated"], config, out, progress)
            t2 = time.perf_counter()
            result = _benchmark_result(lb, config.n, gen, score["scored"], score["verifier"])
            # Wall seconds per stage of this invocation; "verify" includes the verifier's own work in its workers;
            # "generate" is the one call that generated every benchmark's samples together.
            result["timing"] = {"generate_s": generate_s, "verify_s": score["verify_s"], "score_s": t2 - t1,
                                "metrics_s": time.perf_counter() - t2}  # fmt: skip
            per_benchmark[lb.definition.name] = result
    finally:
        backend.close()
    results = {
        "config": config.to_dict(),
        "model": backend.describe(),
        "benchmarks": per_benchmark,
        "paper_average": _paper_average(per_benchmark),
        "packages": package_versions(),
        "started_at": started,
        "finished_at": utc_now(),
    }
    write_atomic(out / "results.json", json_document(results))  # never a half-written results file
    return results


PAPER_BENCHMARKS = groups()["paper_math"].benchmarks


def _paper_average(per_benchmark: dict[str, Any]) -> dict[str, Any] | None:
    """PRIME's tables average benchmarks unweighted (each counts once, whatever its size)."""
    present = [b for b in PAPER_BENCHMARKS if b in per_benchmark]
    if not present:
        return None
    values = [per_benchmark[b]["metrics"]["avg"]["mean"] for b in present]
    return {"benchmarks": present, "complete": len(present) == len(PAPER_BENCHMARKS), "avg": sum(values) / len(values)}
