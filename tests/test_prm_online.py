"""The implicit PRM's online step (``prime_train.prm.prm_step``) on a real tiny causal LM, with a plain torch optimizer
standing in for DeepSpeed: token alignment (a PRM equal to its reference scores every token 0), the order of scoring
and updating (``after``: a mini-batch is scored by the PRM as it was before that mini-batch's update), and the sign of
the pairwise accuracy (a PRM trained on labelled rows ranks the right ones above the wrong ones)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


class _PlainEngine:
    """What prm_step calls on a TrainEngine, over a bare module and Adam: one optimizer step per micro-batch."""

    def __init__(self, module, lr: float):
        self.module = module
        self.opt = torch.optim.Adam(module.parameters(), lr=lr)

    def __call__(self, **kwargs):
        return self.module(**kwargs)

    def train(self):
        self.module.train()

    def eval(self):
        self.module.eval()

    def backward(self, loss):
        loss.backward()

    def step(self) -> bool:
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return True

    def grad_norm(self):
        return None


def _batch(tokenizer, k: int = 4):
    """Two groups of K rows; in each, half the responses are right (label 1), half wrong, all the same length."""
    from prime_train.batch import build_batch

    prompt = tokenizer("What is 2 + 3?")["input_ids"]
    right = tokenizer("2 + 3 = 5", add_special_tokens=False)["input_ids"]
    wrong = tokenizer("2 + 3 = 6", add_special_tokens=False)["input_ids"]
    assert len(right) == len(wrong)
    responses = [right, wrong, wrong, right] * 2
    scores = [1.0, 0.0, 0.0, 1.0] * 2
    return build_batch([prompt] * len(responses), responses, scores, tokenizer.pad_token_id)


def _setup(tiny_model, lr: float, **overrides):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prime_train.batch import batched_logprobs
    from prime_train.config import PRMConfig

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(tiny_model)
    ref = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    engine = _PlainEngine(AutoModelForCausalLM.from_pretrained(tiny_model), lr)
    batch = _batch(tok)
    ref_logp = batched_logprobs(ref, batch, 8, torch.device("cpu"))
    cfg = PRMConfig(**{"mini_batch_size": 4, "micro_batch_size": 4, **overrides})
    return engine, cfg, batch, ref_logp


def test_after_scores_each_mini_batch_before_its_update_and_a_copy_of_the_reference_scores_zero(tiny_model):
    from prime_train.prm import prm_step

    engine, cfg, batch, ref_logp = _setup(tiny_model, lr=1e-2)
    out = prm_step(engine, cfg, batch, ref_logp, 4, torch.device("cpu"))
    # First mini-batch (rows 0-3): the PRM is still the reference, so q is 0 on every token (log-probs aligned).
    assert out.q[:4].abs().max() < 1e-5
    # Second mini-batch: scored after one update on the first, which had the same rows, so it already separates.
    s = (out.q * batch.response_mask).sum(dim=1)
    assert s[4:].abs().max() > 1e-3
    assert s[4] > s[5] and s[7] > s[6]


def test_pairwise_accuracy_rises_to_one_on_the_rows_the_prm_learns_from(tiny_model):
    from prime_train.prm import prm_step

    engine, cfg, batch, ref_logp = _setup(tiny_model, lr=1e-3, beta=0.5)
    accuracies = [prm_step(engine, cfg, batch, ref_logp, 4, torch.device("cpu")).metrics["prm/pairwise_acc"]
                  for _ in range(6)]  # fmt: skip
    assert accuracies[-1] == 1.0
