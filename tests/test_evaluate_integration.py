"""prime's verifiers as Hugging Face `evaluate` metrics give the numbers `prime-eval score` gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

evaluate = pytest.importorskip("evaluate")

from prime_common.jsonl import read_jsonl  # noqa: E402
from prime_eval.cli import main  # noqa: E402
from prime_eval.integrations import evaluate_metric_path  # noqa: E402
from tests._toy_code import toy_code_benchmark  # noqa: E402


def _score_cli(tmp_path: Path, rows: list[dict], *extra: str) -> list[dict]:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["score", "--input", str(src), "--output", str(out), "--quiet", *extra]) == 0
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_math_metric_equals_prime_eval_score(shared_data, tmp_path):
    rows = read_jsonl(shared_data / "math500" / "test.jsonl")[:40]
    pairs = [{"response": r["solution"], "gold": r["answer"]} for r in rows]
    pairs += [{"response": "The answer is $\\boxed{-7}$.", "gold": r["answer"]} for r in rows[:10]]
    metric = evaluate.load(evaluate_metric_path("prime_math"))
    got = metric.compute(predictions=[p["response"] for p in pairs], references=[p["gold"] for p in pairs])
    cli = _score_cli(tmp_path, pairs)
    assert got["correct"] == [r["correct"] for r in cli]
    assert got["answers"] == [r["answer"] for r in cli]
    assert got["accuracy"] == pytest.approx(40 / 50)


def test_code_metric_needs_an_opt_in_and_equals_prime_eval_score(shared_data, tmp_path, monkeypatch):
    tasks = read_jsonl(shared_data / "humaneval" / "HumanEval.jsonl")[:3]
    good = [f"```python\n{t['prompt']}{t['canonical_solution']}```" for t in tasks]
    bad = [f"```python\ndef {t['entry_point']}(*args):\n    return None\n```" for t in tasks]
    metric = evaluate.load(evaluate_metric_path("prime_code"))
    monkeypatch.delenv("PRIME_ALLOW_CODE_EVAL", raising=False)
    with pytest.raises(ValueError, match="PRIME_ALLOW_CODE_EVAL=1"):
        metric.compute(
            predictions=[[g] for g in good], references=[t["task_id"] for t in tasks], benchmark="humaneval"
        )
    monkeypatch.setenv("PRIME_ALLOW_CODE_EVAL", "1")
    preds = [[g, b] for g, b in zip(good, bad)]
    got = metric.compute(
        predictions=preds, references=[t["task_id"] for t in tasks], benchmark="humaneval", k=[1, 2],
        data_dir_path=str(shared_data),
    )  # fmt: skip
    assert got["pass@1"] == pytest.approx(0.5) and got["pass@2"] == pytest.approx(1.0)
    rows = [{"task_id": t["task_id"], "response": r} for t, pair in zip(tasks, preds) for r in pair]
    cli = _score_cli(tmp_path, rows, "--benchmark", "humaneval", "--data-dir", str(shared_data))
    assert [c for pair in got["correct"] for c in pair] == [r["correct"] for r in cli]


def test_the_code_metrics_timeout_bounds_each_check(tmp_path, monkeypatch):
    """``timeout_s`` is the sandbox's bound on a whole check: a program that never ends is cut off at it."""
    import time

    definition = toy_code_benchmark(tmp_path)
    monkeypatch.setenv("PRIME_ALLOW_CODE_EVAL", "1")
    metric = evaluate.load(evaluate_metric_path("prime_code"))
    spin = "```python\nwhile True:\n    pass\n```"
    start = time.monotonic()
    got = metric.compute(predictions=[[spin]], references=["7"], benchmark=str(definition), timeout_s=1.0)
    elapsed = time.monotonic() - start
    # Measured: 1.4 s; under the verifier's default bounds (8 s a check, 6 s a test) the same check takes 6.3 s.
    assert got["correct"] == [[False]] and elapsed < 4.0
