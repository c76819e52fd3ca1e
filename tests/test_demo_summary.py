"""The demo's summary: the start's T = 1 accuracy on training prompts is step 1's rollout accuracy (sampled from the
SFT checkpoint before any update), printed once above the per-run lines."""

from __future__ import annotations

import argparse
import json

import pytest


def _run(folder, rewards):
    folder.mkdir()
    (folder / "eval.jsonl").write_text("".join(json.dumps({"step": s, "arith/avg": a}) + "\n"
                                               for s, a in ((0, 0.085), (10, 0.6))))  # fmt: skip
    rows = [{"step": s + 1, "time/step": 1.0, "rollout/accuracy": r} for s, r in enumerate(rewards)]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_summary_keeps_step_one_reward_as_the_start(tmp_path):
    from prime_train.demo import summarize

    run = _run(tmp_path / "rloo", [0.22, 0.3, 0.45, 0.5])
    summary = summarize({"RLOO": run})["RLOO"]
    assert summary["reward_start"] == pytest.approx(0.22)
    assert (summary["reward_first_quarter"], summary["reward_last_quarter"]) == pytest.approx((0.22, 0.5))


def test_demo_prints_the_start_line_once(tmp_path, monkeypatch, capsys):
    import prime_eval.cli
    import prime_train.demo as demo

    for name in ("prime", "rloo"):
        _run(tmp_path / name, [0.2, 0.5])
    (tmp_path / "sft").mkdir()
    monkeypatch.setattr(demo, "build_demo_sft", lambda root, **_: root / "sft")
    monkeypatch.setattr(demo, "_rl", lambda overrides, out: out)
    monkeypatch.setattr(prime_eval.cli, "main", lambda argv: 0)
    args = argparse.Namespace(output=tmp_path, steps=None, sft_steps=None, threads=1, skip_rloo=False)
    assert demo.cmd_demo(args) == 0
    out = capsys.readouterr().out
    assert out.count("start (the SFT checkpoint): T = 1 accuracy 20.0%") == 1
    assert "PRIME: held-out greedy 8.5% (step 0) -> 60.0% (step 10)" in out
