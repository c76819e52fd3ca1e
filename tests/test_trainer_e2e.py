"""The trainer end to end on a tiny random model (CPU, DeepSpeed ZeRO-2): in one process with its models inspected,
and over two gloo processes with checkpoints, exact resumption and checkpoint scoring.

The verifier is ``tests._parity_verifier`` (a response is "correct" when it has an even number of characters) so
that a random model's groups have mixed outcomes and the advantages are not all zero.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("deepspeed")
torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]


def _recipe(tmp_path: Path, model: Path, **over) -> dict:
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"id": i, "question": f"Add {i} and {i}.", "gold": str(2 * i)}) + "\n"
                            for i in range(64)))  # fmt: skip
    recipe = {
        "output_dir": str(tmp_path / "run"),
        "max_steps": 2,
        "save_every": 1,
        "tensorboard": False,
        "model": {"policy": str(model)},
        "data": {"benchmark": None, "path": str(data), "verifier": "tests._parity_verifier:ParityVerifier"},
        "rollout": {"prompts_per_step": 4, "samples_per_prompt": 4, "max_new_tokens": 12, "batch_size": 4,
                    "verify_workers": 1},
        "policy": {"lr": 1e-3, "mini_batch_size": 8, "micro_batch_size": 4},
        "prm": {"lr": 1e-3, "mini_batch_size": 8, "micro_batch_size": 4},
    }  # fmt: skip
    for key, value in over.items():
        recipe[key] = {**recipe.get(key, {}), **value} if isinstance(value, dict) else value
    return recipe


@pytest.fixture(scope="module")
def single_process():
    """A world of one inside the test process. The process group stays up for the rest of the session (DeepSpeed
    keeps a module-level handle to it that a second init would not replace); the environment is restored."""
    from prime_train.strategy import _free_port

    saved = {k: os.environ.get(k) for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                                             "DS_ACCELERATOR")}  # fmt: skip
    if not torch.distributed.is_initialized():
        os.environ.update({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
                           "MASTER_PORT": str(_free_port()), "DS_ACCELERATOR": "cpu"})  # fmt: skip
    sys.path.insert(0, str(ROOT))
    yield
    sys.path.remove(str(ROOT))
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _params(module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().float() for k, v in module.state_dict().items()}


def _changed(before, after) -> int:
    return sum(not torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("update", ["after", "before"])
def test_one_process_trains_policy_and_prm_not_reference(tmp_path, tiny_model, single_process, update):
    from prime_train.config import load_config
    from prime_train.trainer import PrimeTrainer

    cfg = load_config(None, _recipe(tmp_path, tiny_model, prm={"update": update}))
    trainer = PrimeTrainer(cfg)
    policy0, prm0 = _params(trainer.engines["policy"].module), _params(trainer.engines["prm"].module)
    ref0 = _params(trainer.reference)
    assert all(torch.equal(policy0[k], ref0[k]) for k in ref0)  # all three start from the same checkpoint
    trainer.train()
    assert _changed(policy0, _params(trainer.engines["policy"].module)) > 0
    assert _changed(prm0, _params(trainer.engines["prm"].module)) > 0
    assert _changed(ref0, _params(trainer.reference)) == 0
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    for key in ("policy/loss", "prm/loss", "prm/pairwise_acc", "policy/clip_fraction", "rollout/accuracy",
                "time/rollout", "time/prm", "time/policy", "policy/kl_ref"):  # fmt: skip
        assert all(key in r for r in rows), key
    assert rows[0]["policy/kl_ref"] == pytest.approx(0.0, abs=1e-6)  # step 1 samples from the reference itself
    assert rows[1]["policy/kl_ref"] != pytest.approx(0.0, abs=1e-9)
    saved = tmp_path / "run" / "checkpoints" / "step-2"
    from transformers import AutoModelForCausalLM

    reloaded = _params(AutoModelForCausalLM.from_pretrained(saved))
    assert all(torch.equal(reloaded[k], v) for k, v in _params(trainer.engines["policy"].module).items())
    assert (saved / "prm" / "config.json").is_file()


def test_outcome_only_rloo_has_no_prm(tmp_path, tiny_model, single_process):
    from prime_train.config import load_config
    from prime_train.trainer import PrimeTrainer

    cfg = load_config(None, _recipe(tmp_path, tiny_model, max_steps=1, prm={"enabled": False}))
    trainer = PrimeTrainer(cfg)
    assert "prm" not in trainer.engines and trainer.reference is None
    trainer.train()
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text())
    assert "prm/loss" not in row and "policy/loss" in row
    assert not (tmp_path / "run" / "checkpoints" / "step-1" / "prm").exists()


def _torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    return subprocess.run(cmd + ["-m", "prime_train.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip


def test_two_processes_checkpoint_resume_and_scoring(tmp_path, tiny_model):
    recipe = _recipe(tmp_path, tiny_model, eval={"benchmarks": ["aime24"], "limit": 2, "max_tokens": 8})
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    no_eval = ["--eval.benchmarks", "[]"]  # the uninterrupted run is only the yardstick: no need to score it
    straight = _torchrun(
        ["--config", "recipe.yaml", "--max-steps", "3", "--output-dir", "straight", *no_eval], tmp_path
    )
    assert straight.returncode == 0, straight.stderr[-3000:]
    first = _torchrun(["--config", "recipe.yaml", "--max-steps", "2", "--output-dir", "resumed"], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    again = _torchrun(["--config", "recipe.yaml", "--max-steps", "3", "--output-dir", "resumed"], tmp_path)
    assert again.returncode != 0 and "pass --resume" in again.stderr
    second = _torchrun(
        ["--config", "recipe.yaml", "--max-steps", "3", "--output-dir", "resumed", "--resume"], tmp_path
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resumed from" in second.stderr and "at step 2" in second.stderr

    def rows(run):
        return [json.loads(line) for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]

    a, b = rows("straight"), rows("resumed")
    assert [r["step"] for r in a] == [r["step"] for r in b] == [1, 2, 3]
    for key in ("policy/loss", "prm/loss", "rollout/accuracy", "batch/response_length", "samples_seen"):
        assert a[2][key] == pytest.approx(b[2][key], rel=1e-5), key  # step 3 after a resume = without one
    assert a[2]["samples_seen"] == 3 * 16
    for step in (0, 1, 2, 3):  # the initial policy and every checkpoint, scored by the harness
        results = json.loads((tmp_path / "resumed" / "eval" / f"step-{step}" / "results.json").read_text())
        assert results["benchmarks"]["aime24"]["num_problems"] == 2
    scored = [json.loads(line)["step"] for line in (tmp_path / "resumed" / "eval.jsonl").read_text().splitlines()]
    assert sorted(scored) == [0, 1, 2, 3]
    state = json.loads((tmp_path / "resumed" / "checkpoints" / "step-3" / "trainer_state.json").read_text())
    assert state["world_size"] == 2 and state["step"] == 3
