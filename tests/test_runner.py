"""prime-eval run end to end with a scripted backend: outputs, metrics, provenance, resume after SIGKILL. It drives
the generated ``arith`` benchmark, so it needs no benchmark files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.loading import load_benchmark
from benchmarks.registry import get_benchmark
from prime_eval.run_config import build_config
from prime_eval.runner import RunError, run_eval
from tests._fake_backend import FakeBackend


def _problems(limit: int):
    return load_benchmark(get_benchmark("arith"), limit=limit).problems


def _answers(limit: int) -> dict[str, object]:
    problems = _problems(limit)
    # problem k: all 4 samples right when k % 3 == 0, one right and three wrong when k % 3 == 1, none when 2
    out = {}
    for k, p in enumerate(problems):
        right, wrong = f"So $\\boxed{{{p.reference}}}$.", "So $\\boxed{-12345}$."
        out[p.id] = [right] * 4 if k % 3 == 0 else [right, wrong, wrong, wrong] if k % 3 == 1 else [wrong]
    return out


def _config(tmp_path: Path, **over):
    flags = {"model": "fake", "backend": "fake", "benchmarks": "arith", "n": 4, "temperature": 0.6,
             "limit": 6, "output": str(tmp_path / "run")}  # fmt: skip
    flags.update(over)
    return build_config(flags)


def test_outputs_metrics_and_provenance(tmp_path):
    results = run_eval(_config(tmp_path), backend=FakeBackend(_answers(6)), progress=False)
    r = results["benchmarks"]["arith"]
    assert (r["num_problems"], r["num_samples"]) == (6, 24)
    # per problem avg@4: 1, .25, 0 repeated twice -> 1.25/3
    assert r["metrics"]["avg"]["mean"] == pytest.approx(1.25 / 3)
    assert r["metrics"]["pass@4"]["mean"] == pytest.approx(2 / 3)
    assert r["metrics"]["maj@4"]["mean"] == pytest.approx(1 / 3)
    assert r["data"]["sha256"] and r["prompt"]["fingerprint"] and r["verifier"]["name"] == "math"
    assert results["packages"]["sympy"] and results["model"]["model"] == "fake-model"
    assert results["started_at"] <= results["finished_at"]
    on_disk = json.loads((tmp_path / "run" / "results.json").read_text())
    assert on_disk["benchmarks"]["arith"]["metrics"] == r["metrics"]
    samples = [json.loads(x) for x in (tmp_path / "run" / "samples" / "arith.jsonl").read_text().splitlines()]
    assert len(samples) == 24 and {s["sample"] for s in samples} == {0, 1, 2, 3}
    first = samples[0]
    assert {"id", "sample", "prompt", "response", "answer", "correct", "status", "seconds"} <= set(first)


def test_resume_generates_nothing_twice(tmp_path):
    fake = FakeBackend(_answers(6))
    run_eval(_config(tmp_path, limit=3), backend=fake, progress=False)
    assert len(fake.calls) == 12
    fake.calls.clear()
    run_eval(_config(tmp_path, limit=6), backend=fake, progress=False)  # three more problems
    done = {f"arith/{p.id}" for p in _problems(3)}
    assert len(fake.calls) == 12 and not done & {key for key, _ in fake.calls}
    fake.calls.clear()
    run_eval(_config(tmp_path, limit=6), backend=fake, progress=False)
    assert fake.calls == []


def test_resume_refuses_other_settings(tmp_path):
    run_eval(_config(tmp_path, limit=1), backend=FakeBackend({}), progress=False)
    with pytest.raises(RunError, match="temperature: 0.6 -> 0.7"):
        run_eval(_config(tmp_path, limit=1, temperature=0.7), backend=FakeBackend({}), progress=False)


_CHILD = """
import sys, pathlib
sys.path.insert(0, {root!r})
from prime_eval.run_config import build_config
from prime_eval.runner import run_eval
from tests._fake_backend import FakeBackend
from tests.test_runner import _answers
cfg = build_config({flags!r})
run_eval(cfg, backend=FakeBackend(_answers(6), log=pathlib.Path({log!r}), delay_s={delay}), progress=False)
"""


def test_sigkill_mid_run_then_resume(tmp_path):
    root = str(Path(__file__).resolve().parents[1])
    flags = {"model": "fake", "backend": "fake", "benchmarks": "arith", "n": 4, "temperature": 0.6, "limit": 6,
             "output": str(tmp_path / "run")}  # fmt: skip
    log = tmp_path / "calls.jsonl"
    child = subprocess.Popen([sys.executable, "-c", _CHILD.format(root=root, flags=flags, log=str(log), delay=0.05)])
    gen_file = tmp_path / "run" / "generations" / "arith.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not gen_file.exists() or len(gen_file.read_text().splitlines()) < 8):
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    saved_before = len(gen_file.read_text().splitlines())
    assert 8 <= saved_before < 24, "killed mid-generation"
    subprocess.run([sys.executable, "-c", _CHILD.format(root=root, flags=flags, log=str(log), delay=0)], check=True)
    calls = [tuple(json.loads(x)) for x in log.read_text().splitlines()]
    assert len(set(calls)) == 24, "every sample generated"
    regenerated = len(calls) - 24
    assert regenerated <= 1, "at most the sample in flight at the kill is generated again"
    gens = [json.loads(x) for x in gen_file.read_text().splitlines()]
    assert sorted((g["id"], g["sample"]) for g in gens) == sorted({(g["id"], g["sample"]) for g in gens})
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["benchmarks"]["arith"]["num_samples"] == 24
    assert results["benchmarks"]["arith"]["metrics"]["avg"]["mean"] == pytest.approx(1.25 / 3)


def test_stalled_generation_warns():
    from prime_eval.runner import _StallWatch

    watch = _StallWatch("math500", after_s=0.2)
    try:
        with pytest.warns(UserWarning, match="math500: no sample finished for"):
            time.sleep(0.5)
    finally:
        watch.stop()
