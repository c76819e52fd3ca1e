"""The runner hands every benchmark's prompts to the backend in one call, each request with its own benchmark's
token limit, and still resumes per sample: what was saved before a crash is never asked for again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prime_eval.backends.base import Completion
from prime_eval.run_config import build_config
from prime_eval.runner import run_eval

ROOT = Path(__file__).resolve().parents[1]


class CountingBackend:
    """Answers every sample at once, recording each call's requests; ``crash_after`` raises mid-call."""

    name = "counting"

    def __init__(self, crash_after: int | None = None):
        self.calls: list[list] = []
        self.crash_after = crash_after

    def describe(self) -> dict:
        return {"backend": self.name}

    def generate(self, requests, sampling, on_completion) -> None:
        self.calls.append(list(requests))
        done = 0
        for request in requests:
            for j in request.samples:
                if done == self.crash_after:
                    raise KeyboardInterrupt  # a kill in the middle of the call
                limit = request.max_tokens or sampling.max_tokens
                on_completion(request, Completion(j, f"{limit} \\boxed{{0}}", "stop", tokens=1, seconds=0.0))
                done += 1

    def close(self) -> None:
        pass


@pytest.fixture
def config(tmp_path):
    """arith (96 new tokens) and a second arith of the user's with a limit of its own (200)."""
    definition = (ROOT / "benchmarks" / "definitions" / "arith.yaml").read_text()
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "arith_long.yaml").write_text(
        definition.replace("name: arith", "name: arith_long").replace("max_tokens: 96", "max_tokens: 200")
    )
    flags = {"model": "m", "backend": "file", "benchmarks": "arith,arith_long", "n": 2, "temperature": 0.6,
             "limit": 5, "output": str(tmp_path / "run"), "include_path": str(tmp_path / "defs")}  # fmt: skip
    return build_config(flags)


def _saved(run: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (run / "generations" / f"{name}.jsonl").read_text().splitlines()]


def test_one_call_for_every_benchmark_each_with_its_limit(config):
    backend = CountingBackend()
    results = run_eval(config, backend=backend, progress=False)
    assert len(backend.calls) == 1
    limits = {(r.meta["benchmark"], r.max_tokens) for r in backend.calls[0]}
    assert limits == {("arith", 96), ("arith_long", 200)}
    for name, limit in (("arith", 96), ("arith_long", 200)):
        result = results["benchmarks"][name]
        assert result["num_samples"] == 10 and result["sampling"]["max_tokens"] == limit
        assert {row["response"] for row in _saved(Path(config.output), name)} == {f"{limit} \\boxed{{0}}"}


def test_a_run_killed_mid_call_resumes_per_sample(config):
    with pytest.raises(KeyboardInterrupt):
        run_eval(config, backend=CountingBackend(crash_after=13), progress=False)
    run = Path(config.output)
    saved = {(name, r["id"], r["sample"]) for name in ("arith", "arith_long") for r in _saved(run, name)}
    assert len(saved) == 13  # written as they arrived, before the kill
    backend = CountingBackend()
    results = run_eval(config, backend=backend, progress=False)
    asked = {(r.meta["benchmark"], r.meta["id"], j) for r in backend.calls[0] for j in r.samples}
    assert len(backend.calls) == 1 and len(asked) == 20 - 13 and not asked & saved
    assert all(results["benchmarks"][name]["num_samples"] == 10 for name in ("arith", "arith_long"))
