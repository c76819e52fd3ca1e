"""Policy-gradient sanity through the real ``PrimeTrainer`` code path (rollout, verify, PRM, advantages, PPO): a
one-token bandit whose optimum is known. The prompt is fixed, the response is one token, and a fixed set of tokens is
rewarded, chosen so that the initial policy samples one of them about 10% of the time. Any sign error, a mask off by one
position, advantages that do not reach the sampled token or weights that do not reach the sampler leave the reward
flat; a working trainer drives it to ~1 in a few dozen steps, for PRIME and for outcome-only RLOO alike.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("deepspeed")
torch = pytest.importorskip("torch")

from tests.test_trainer_e2e import single_process  # noqa: E402, F401 - the fixture: a world of one process

QUESTION = "Say a number."
START_PROBABILITY = 0.10  # of the rewarded token under the initial policy


def _first_token_distribution(model_dir: Path, prompt_ids: list[int]) -> torch.Tensor:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt_ids])).logits[0, -1]
    return torch.softmax(logits.float(), dim=-1)


def _rewarded_tokens(model_dir: Path) -> list[str]:
    """The texts of the initial policy's most likely first tokens, as many as it takes to reach START_PROBABILITY
    together (a random tiny model spreads its mass over hundreds of tokens, so one token alone is too rare to learn
    from in a few steps). Only plain texts that decode back to themselves, so the verifier's comparison is exact."""
    from transformers import AutoTokenizer

    from prime_eval.prompts import PromptTemplate
    from prime_train.rollout import encode_prompts

    tok = AutoTokenizer.from_pretrained(model_dir)
    prompt = encode_prompts(tok, [PromptTemplate("chat", "math").render(QUESTION)], 128)[0]
    probs = _first_token_distribution(model_dir, prompt)
    chosen, mass = [], 0.0
    for token_id in probs.argsort(descending=True).tolist():
        text = tok.decode([token_id], skip_special_tokens=True)
        if text.strip() and text == text.strip() and text not in chosen:
            chosen.append(text)
            mass += float(probs[token_id])
        if mass >= START_PROBABILITY:
            return chosen
    raise AssertionError("the tiny model's plain tokens never reach the starting probability")


@pytest.mark.usefixtures("single_process")
@pytest.mark.parametrize("prm_enabled", [True, False], ids=["prime", "rloo"])
def test_one_token_bandit_reward_rises_to_one(tmp_path, tiny_model, prm_enabled):
    from prime_train.config import load_config
    from prime_train.trainer import PrimeTrainer

    target = _rewarded_tokens(tiny_model)
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"id": i, "question": QUESTION, "gold": target}) + "\n" for i in range(512)))
    cfg = load_config(None, {
        "output_dir": str(tmp_path / "run"), "max_steps": 30, "save_every": 1000, "tensorboard": False,
        "model": {"policy": str(tiny_model)},
        "data": {"benchmark": None, "path": str(data), "verifier": "tests._bandit_verifier:OneOfVerifier"},
        # No accuracy filter: the bandit is meant to saturate, and the filter would drop every group that has.
        "rollout": {"prompts_per_step": 8, "samples_per_prompt": 8, "max_new_tokens": 1, "batch_size": 8,
                    "filter_low": None, "filter_high": None, "verify_workers": 1},
        # One optimizer step per RL step: PPO's ratios are then exactly 1, which checks old log-probs too.
        "policy": {"lr": 3e-3, "mini_batch_size": 64, "micro_batch_size": 32},
        "prm": {"enabled": prm_enabled, "lr": 3e-3, "mini_batch_size": 64, "micro_batch_size": 32},
    })  # fmt: skip
    PrimeTrainer(cfg).train()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    reward = [r["rollout/accuracy"] for r in rows]
    print("bandit reward per step:", " ".join(f"{x:.2f}" for x in reward), file=sys.stderr)
    # 64 samples a step: one step's accuracy has a standard error of at most 0.0625 around its mean.
    assert sum(reward[:3]) / 3 < 0.3
    assert sum(reward[-5:]) / 5 > 0.9
    # Rollouts and the log-probs PPO starts from come from the same weights (no stale sampler, no train/eval gap).
    assert max(r["policy/clip_fraction"] for r in rows) == pytest.approx(0.0, abs=1e-6)
