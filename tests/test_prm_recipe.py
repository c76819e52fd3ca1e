"""The CPU demo's PRM settings (``tiny_cpu`` recipe): the implicit PRM must track a policy that changes every step
(issue 16 item 3). Its learning rate is capped by noise (at 1e-3 Adam's steps lower the likelihood of every
on-policy token and the PRM ranks below chance), so it moves further per RL step by taking several small optimizer
steps over the step's samples: 2 per step ranked right above wrong at 0.56-0.57 over the last quarter, 8 at 0.66
(docs/training.md, "The implicit PRM")."""

from __future__ import annotations

from prime_train.config import load_config


def test_tiny_cpu_prm_takes_several_optimizer_steps_per_rl_step():
    cfg = load_config("tiny-cpu")
    samples = cfg.rollout.prompts_per_step * cfg.rollout.samples_per_prompt
    assert cfg.prm.enabled and cfg.prm.loss == "ce"
    assert samples % cfg.prm.mini_batch_size == 0, "a step's samples split into whole PRM mini-batches"
    assert samples // cfg.prm.mini_batch_size >= 8


def test_tiny_cpu_prm_lr_stays_below_the_noise_regime():
    cfg = load_config("tiny-cpu")
    assert cfg.prm.lr <= 3e-4
    assert cfg.prm.beta >= 0.5
