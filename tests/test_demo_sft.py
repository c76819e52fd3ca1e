"""The demo's two SFT stages (``prime_train.demo.build_demo_sft``) at a handful of steps: worked solutions first,
then the short stage whose targets are mostly bare answers, drawn afresh at each presentation; a rerun keeps both."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")


def test_demo_sft_stages_and_their_settings(tmp_path):
    from prime_train.demo import HABIT_FRACTION, HABIT_LR, build_demo_sft
    from tests.tiny_model import one_torch_thread

    stages: list[str] = []
    with one_torch_thread():
        sft = build_demo_sft(tmp_path, steps=8, announce=stages.append)
    worked = json.loads((tmp_path / "sft-worked" / "sft.json").read_text())
    habit = json.loads((sft / "sft.json").read_text())
    assert sft == tmp_path / "sft" and len(stages) == 3
    assert worked["config"]["answer_only_fraction"] == 0.0 and worked["steps"] == 8
    assert habit["config"]["model"] == str(tmp_path / "sft-worked")
    assert habit["config"]["answer_only_fraction"] == HABIT_FRACTION and habit["config"]["answer_only_resample"]
    assert habit["config"]["lr"] == HABIT_LR and habit["steps"] == 1
    before = (sft / "sft.json").stat().st_mtime_ns
    assert build_demo_sft(tmp_path, steps=8, announce=stages.append) == sft
    assert len(stages) == 3 and (sft / "sft.json").stat().st_mtime_ns == before
