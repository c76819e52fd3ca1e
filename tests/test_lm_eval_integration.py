"""prime's benchmarks as lm-eval tasks: lm_eval.simple_evaluate scores with prime's verifier, and its per-sample
verdicts equal `prime-eval run --backend file` on the same generations."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

lm_eval = pytest.importorskip("lm_eval")
pytest.importorskip("accelerate")

from lm_eval.api.model import LM  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402

from benchmarks.loading import load_benchmark  # noqa: E402
from benchmarks.registry import get_benchmark  # noqa: E402
from prime_common.jsonl import read_jsonl  # noqa: E402
from prime_eval.cli import main  # noqa: E402
from prime_eval.integrations.lm_eval_tasks import write_task_dir  # noqa: E402

LIMIT = 4


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory, shared_data) -> Path:
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = tmp_path_factory.mktemp("lm_eval_tasks")
    write_task_dir(out, "math500,humaneval", data_dir=shared_data)
    return out


class ScriptedLM(LM):
    """Answers problem k right when k is even: what lm-eval sends and what prime scores are then both known."""

    def __init__(self, answers: dict[str, str]):
        super().__init__()
        self.answers = answers

    def generate_until(self, requests, disable_tqdm: bool = False):
        return [next((a for q, a in self.answers.items() if r.args[0].startswith(q)), "no idea") for r in requests]

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError


def _prime_file_run(tmp_path: Path, data: Path, name: str, samples: list[dict]) -> list[bool]:
    """prime-eval run --backend file over exactly the documents lm-eval generated for."""
    responses = tmp_path / f"{name}.jsonl"
    responses.write_text(
        "".join(
            json.dumps({"benchmark": name, "id": s["doc"]["id"], "response": s["filtered_resps"][0]}) + "\n"
            for s in samples
        )
    )
    out = tmp_path / f"run_{name}"
    args = ["run", "--backend", "file", "--model", str(responses), "--benchmarks", name, "--limit", str(len(samples)),
            "--output", str(out), "--data-dir", str(data), "--quiet"]  # fmt: skip
    assert main(args) == 0
    rows = {r["id"]: r["correct"] for r in read_jsonl(out / "samples" / f"{name}.jsonl")}
    return [rows[s["doc"]["id"]] for s in samples]


def _verdicts(results: dict, task: str) -> list[dict]:
    return sorted(results["samples"][task], key=lambda s: int(s["doc_id"]))


def test_scripted_model_verdicts_match_prime(task_dir, shared_data, tmp_path):
    answers = {}
    for name in ("math500", "humaneval"):
        for k, p in enumerate(load_benchmark(get_benchmark(name), data_dir=shared_data, limit=LIMIT).problems):
            if name == "math500":
                answers[p.question] = f"So $\\boxed{{{p.reference if k % 2 == 0 else '-7'}}}$."
            else:
                body = "    return None\n" if k % 2 else None
                code = p.reference.prompt + (body or _canonical(shared_data, p.id))
                answers[p.question] = f"```python\n{code}\n```"
    results = lm_eval.simple_evaluate(
        model=ScriptedLM(answers), tasks=["prime_math500", "prime_humaneval"], limit=LIMIT,
        task_manager=TaskManager(include_path=str(task_dir), include_defaults=False), log_samples=True,
        confirm_run_unsafe_code=True,
    )  # fmt: skip
    for name in ("math500", "humaneval"):
        samples = _verdicts(results, f"prime_{name}")
        ours = [bool(s["acc"]) for s in samples]
        assert ours == [k % 2 == 0 for k in range(LIMIT)], name
        assert ours == _prime_file_run(tmp_path, shared_data, name, samples)
        assert results["results"][f"prime_{name}"]["acc,none"] == pytest.approx(0.5)


def _canonical(data: Path, task_id: str) -> str:
    rows = read_jsonl(data / "humaneval" / "HumanEval.jsonl")
    return next(r["canonical_solution"] for r in rows if r["task_id"] == task_id)


def test_tiny_local_model_through_lm_eval(task_dir, shared_data, tiny_model, tmp_path):
    results = lm_eval.simple_evaluate(
        model="hf", model_args={"pretrained": str(tiny_model), "dtype": "float32"}, device="cpu",
        tasks=["prime_math500"], limit=2, task_manager=TaskManager(include_path=str(task_dir), include_defaults=False),
        log_samples=True, gen_kwargs="max_gen_toks=8", batch_size=2,
    )  # fmt: skip
    samples = _verdicts(results, "prime_math500")
    assert len(samples) == 2
    assert [bool(s["acc"]) for s in samples] == _prime_file_run(tmp_path, shared_data, "math500", samples)
