"""``prime_eval.evaluate``: the harness from Python returns what ``prime-eval run`` writes (issue 14, item 12)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import prime_eval
from benchmarks.loading import load_benchmark
from benchmarks.registry import get_benchmark
from prime_eval.run_config import ConfigError
from tests._fake_backend import FakeBackend


def _right_answers(limit: int) -> dict[str, str]:
    problems = load_benchmark(get_benchmark("arith"), limit=limit).problems
    return {p.id: f"\\boxed{{{p.reference}}}" for p in problems[:2]}  # the first two right, the third not


def test_evaluate_returns_the_results_json(tmp_path):
    results = prime_eval.evaluate("fake", "arith", backend=FakeBackend(_right_answers(3)), output=tmp_path / "r",
                                  limit=3)  # fmt: skip
    assert json.loads(json.dumps(results)) == json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["benchmarks"]["arith"]["metrics"]["avg"]["mean"] == pytest.approx(2 / 3)
    assert results["config"]["limit"] == 3 and results["config"]["model"] == "fake"


def test_evaluate_without_output_uses_a_fresh_folder_and_takes_a_list(tmp_path):
    results = prime_eval.evaluate("fake", ["arith"], backend=FakeBackend({}), limit=1)
    folder = Path(results["config"]["output"])
    assert (folder / "results.json").is_file() and folder.name.startswith("prime-eval-")


def test_bad_settings_raise_the_config_error():
    with pytest.raises(ConfigError, match="unknown setting"):
        prime_eval.evaluate("fake", "arith", backend=FakeBackend({}), temprature=0.6)


def test_importing_the_package_stays_cheap():
    code = "import sys, prime_eval; print('prime_eval.runner' in sys.modules, 'evaluate' in dir(prime_eval))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
