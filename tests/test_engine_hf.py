"""The transformers engine serves evaluation and the trainer's rollouts alike: the same tokens for the same seed
through both paths, log-probs of what it sampled, and no decoding knob taken from the checkpoint."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch  # noqa: E402

from prime_eval.backends import Request, SamplingConfig  # noqa: E402
from prime_train.config import RolloutConfig  # noqa: E402
from prime_train.rollout import HFRollout, encode_prompts  # noqa: E402
from tests import test_backends_hf  # noqa: E402

# The hf backend tests' fixtures, used by name: one torch thread, and the backend on the tiny model.
_one_thread, backend = test_backends_hf._one_thread, test_backends_hf.backend

PROMPTS = ["Compute $x$ such that", [{"role": "user", "content": "What is 2+2?"}]]
# Log-probs recorded while sampling (one token at a time, KV cache) vs one forward pass over the whole sequence:
# the same float32 weights, only the order of the sums differs; float32's 6e-8 relative rounding over two layers of
# 32-wide dot products and a 400-way log-softmax of logits ~10 stays far below 1e-4.
LOGPROB_TOL = 1e-4


def _rollout(model, tokenizer, **cfg) -> HFRollout:
    cfg = {"temperature": 1.0, "top_p": 1.0, "max_new_tokens": 16, "batch_size": 2, "samples_per_prompt": 3, **cfg}
    return HFRollout(model, tokenizer, RolloutConfig(**cfg))


def test_eval_and_rollout_give_the_same_tokens_for_the_same_seed(backend):
    """Sample j of an eval request is the row seeded seed + j; so is response j of the rollout's first prompt."""
    tokenizer = backend.tokenizer
    rollout = _rollout(backend.model, tokenizer)
    ids = encode_prompts(tokenizer, PROMPTS, 128)
    for i, prompt in enumerate(PROMPTS):
        got = {}
        sampling = SamplingConfig(n=3, temperature=1.0, max_tokens=16, seed=7 + 3 * i)
        backend.generate([Request("p", prompt, (0, 1, 2))], sampling, lambda r, c, got=got: got.update({c.sample: c}))
        responses = rollout.generate(ids, k=3, seed=7)[i]
        for j, response in enumerate(responses):
            body = response.ids if response.truncated else response.ids[:-1]
            assert tokenizer.decode(body, skip_special_tokens=True) == got[j].text
            assert len(response.ids) == got[j].tokens
            assert response.truncated == (got[j].finish_reason == "length")
        assert len({tuple(r.ids) for r in responses}) > 1  # three draws, not one drawn three times


def test_rollouts_reproduce_end_at_eos_and_return_the_policys_logprobs(tiny_model, backend):
    from transformers import AutoModelForCausalLM

    model, tokenizer = AutoModelForCausalLM.from_pretrained(tiny_model), backend.tokenizer
    ids = encode_prompts(tokenizer, PROMPTS, 128)
    # A random tiny model seldom samples its eos; a common token of its responses ends them too, as a checkpoint's
    # generation_config may list several (Qwen: <|im_end|> and <|endoftext|>).
    common = _rollout(model, tokenizer).generate(ids, k=3, seed=11)[0][0].ids[3]
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, common]
    rollout = _rollout(model, tokenizer, max_new_tokens=24)
    model.train()
    first = rollout.generate(ids, k=3, seed=11)
    assert model.training  # the policy's mode is given back
    model.eval()
    assert [[r.ids for r in g] for g in rollout.generate(ids, k=3, seed=11)] == [[r.ids for r in g] for g in first]
    assert [[r.ids for r in g] for g in rollout.generate(ids, k=3, seed=12)] != [[r.ids for r in g] for g in first]
    eos = rollout.engine.eos_ids
    ended = 0
    for prompt, group in zip(ids, first):
        for r in group:
            # Up to and including the first end-of-sequence token, or all max_new_tokens without one.
            assert not any(t in eos for t in r.ids[:-1])
            assert r.truncated == (r.ids[-1] not in eos) and (not r.truncated or len(r.ids) == 24)
            ended += not r.truncated
            with torch.no_grad():
                logits = model(torch.tensor([prompt + r.ids])).logits[0, len(prompt) - 1 : -1]
            mine = torch.log_softmax(logits.double(), -1).gather(-1, torch.tensor(r.ids)[:, None])[:, 0]
            assert len(r.logprobs) == len(r.ids)
            assert (torch.tensor(r.logprobs, dtype=torch.float64) - mine).abs().max() < LOGPROB_TOL
    assert ended  # the cases above are not all one kind


def test_checkpoint_decoding_defaults_reach_neither_rollouts_nor_the_policy(tiny_model, backend, tmp_path):
    """A repetition penalty or temperature in generation_config.json (Qwen's instruct models ship one) would make
    the sampler draw from a distribution the trainer's log-probs do not describe."""
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model, model_dir)
    suggested = {"repetition_penalty": 3.0, "temperature": 0.2, "top_k": 2, "no_repeat_ngram_size": 1}
    (model_dir / "generation_config.json").write_text(json.dumps(suggested))
    from transformers import AutoModelForCausalLM

    policy = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    ids = encode_prompts(backend.tokenizer, PROMPTS, 128)
    plain = _rollout(backend.model, backend.tokenizer).generate(ids, k=3, seed=0)
    got = _rollout(policy, backend.tokenizer).generate(ids, k=3, seed=0)
    assert [[r.ids for r in g] for g in got] == [[r.ids for r in g] for g in plain]
    assert policy.generation_config.repetition_penalty == 3.0  # the policy's own config is left as it was
