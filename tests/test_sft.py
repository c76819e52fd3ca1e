"""SFT on arith's worked solutions: loss only on response tokens, the loss goes down, a loadable folder comes out,
and the prompt tokens are the ones the hf backend sends."""

from __future__ import annotations

import argparse
import json

import pytest

pytest.importorskip("transformers")

from benchmarks.arith import train_problems  # noqa: E402
from prime_eval.backends.base import chat_token_ids  # noqa: E402
from prime_eval.prompts import PromptTemplate  # noqa: E402
from prime_train.sft import IGNORE, SFTConfig, add_sft_arguments, cmd_sft, collate, encode_example, run_sft  # noqa: E402
from prime_train.tiny import build_tiny_model  # noqa: E402
from tests.tiny_model import one_torch_thread  # noqa: E402


@pytest.fixture(scope="module")
def arith_model(tmp_path_factory):
    """The demo's model factory at a test size (the tokenizer is the demo's: trained on arith text)."""
    return build_tiny_model(tmp_path_factory.mktemp("arith-tiny"), hidden=32, layers=2, heads=2, kv_heads=1,
                            intermediate=64)  # fmt: skip


def test_tokenizer_keeps_digits_apart_and_the_template_holds_bos(arith_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(arith_model)
    assert tok.tokenize("9876") == ["9", "8", "7", "6"]
    text = tok.apply_chat_template([{"role": "user", "content": "What is 2 + 3?"}], add_generation_prompt=True,
                                   tokenize=False)  # fmt: skip
    assert text.startswith(tok.bos_token) and text.endswith("<|im_start|>assistant\n")
    assert tok.decode(tok("What is 12 * 3?", add_special_tokens=False)["input_ids"]) == "What is 12 * 3?"


def test_only_response_tokens_are_labelled(arith_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(arith_model)
    row = train_problems(1, seed=5)[0]
    template = PromptTemplate("chat", "math")
    # The prompt by hand: the chat text up to "<|im_start|>assistant\n", tokenized without added specials.
    text = (f"<|bos|><|im_start|>user\n{row['question']}\n\nPresent the answer in LaTex format: \\boxed{{Your answer}}"
            "<|im_end|>\n<|im_start|>assistant\n")  # fmt: skip
    by_hand = tok(text, add_special_tokens=False)["input_ids"]
    assert by_hand == chat_token_ids(tok, template.render(row["question"]))  # what the hf backend sends
    short = encode_example(tok, template, "What is 1 + 2?", "1 + 2 = 3\n\n\\boxed{3}")
    example = encode_example(tok, template, row["question"], row["solution"])
    assert example.prompt_len == len(by_hand) and example.ids[: example.prompt_len] == by_hand
    assert tok.decode(example.ids[example.prompt_len :]) == row["solution"] + tok.eos_token
    batch = collate([example, short], pad_id=tok.pad_token_id)
    labels, ids, mask = batch["labels"], batch["input_ids"], batch["attention_mask"]
    assert (labels[0, : example.prompt_len] == IGNORE).all()
    assert labels[0, example.prompt_len :].tolist() == example.ids[example.prompt_len :]
    n = len(short.ids)  # the shorter row: padded on the right, padding neither attended nor labelled
    assert (labels[1, : short.prompt_len] == IGNORE).all() and (labels[1, n:] == IGNORE).all()
    assert (ids[1, n:] == tok.pad_token_id).all() and mask[1].sum() == n
    assert int((labels != IGNORE).sum()) == (len(example.ids) - example.prompt_len) + (n - short.prompt_len)


def test_sft_lowers_the_loss_and_writes_a_loadable_folder(arith_model, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prime_eval.backends.base import Request, SamplingConfig
    from prime_eval.backends.hf import HFBackend

    parser = argparse.ArgumentParser()
    add_sft_arguments(parser)
    out = tmp_path / "sft"
    args = parser.parse_args(["--model", str(arith_model), "--output", str(out), "--examples", "96", "--steps", "12",
                              "--batch-size", "8", "--lr", "3e-3", "--quiet"])  # fmt: skip
    with one_torch_thread():
        assert cmd_sft(args) == 0
        report = json.loads((out / "sft.json").read_text())
        assert report["final_loss_mean10"] < report["first_loss"] - 0.5
        assert (report["steps"], report["examples"], report["prompt_mode"]) == (12, 96, "chat")
        assert report["data"]["split"] == "train" and report["config"]["lr"] == 3e-3
        # Every step in the trainer's log (metrics.jsonl + TensorBoard), the lr at its peak, then cosine decay.
        log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in log] == list(range(1, 13)) and log[0]["loss"] == report["first_loss"]
        assert max(r["lr"] for r in log) == 3e-3 > log[-1]["lr"] and (out / "tensorboard").is_dir()
        # Same settings, same run: the data order and the updates depend on the seed alone.
        again = run_sft(SFTConfig(model=str(arith_model), output=str(tmp_path / "again"), examples=96, steps=12,
                                  batch_size=8, lr=3e-3, progress=False))  # fmt: skip
        assert json.loads((again / "sft.json").read_text())["final_loss"] == report["final_loss"]

        AutoTokenizer.from_pretrained(out)
        AutoModelForCausalLM.from_pretrained(out)
        backend = HFBackend(str(out), device="cpu")
        got = []
        prompt = PromptTemplate("chat", "math").render("What is 2 + 3?")
        backend.generate([Request("k", prompt, (0,))], SamplingConfig(max_tokens=6), lambda r, c: got.append(c))
        assert got[0].tokens and got[0].finish_reason in ("stop", "length")


def test_user_errors_are_messages(tmp_path, capsys, arith_model):
    from prime_train.cli import main as train_main

    argv = ["sft", "--model", str(arith_model), "--output", str(tmp_path / "o"), "--benchmark"]
    assert train_main([*argv, "arth"]) == 2
    assert "did you mean arith" in capsys.readouterr().err
    assert train_main([*argv, "mbpp"]) == 2
    assert "prime-train sft: error: " in (err := capsys.readouterr().err) and "worked solutions" in err
    with pytest.raises(ValueError, match="batch_size"):
        SFTConfig(model="m", output="o", batch_size=0)


def test_answer_only_fraction_replaces_worked_steps_by_the_boxed_gold():
    from prime_train.sft import _problems, answer_only_rows

    worked, _, _, _ = _problems(SFTConfig(model="m", output="o", examples=200, answer_only_fraction=0.0))
    mixed, _, _, _ = _problems(SFTConfig(model="m", output="o", examples=200, answer_only_fraction=0.25))
    rows = train_problems(200)
    chosen = answer_only_rows(200, 0.25, seed=0)
    assert len(chosen) == 50 and chosen == answer_only_rows(200, 0.25, seed=0) != answer_only_rows(200, 0.25, seed=1)
    assert [q for q, _ in mixed] == [q for q, _ in worked] == [r["question"] for r in rows]
    for i, ((_, target), row) in enumerate(zip(mixed, rows)):
        assert target == (f"\\boxed{{{row['gold']}}}" if i in chosen else row["solution"])
    assert answer_only_rows(10, 0.0, 0) == set() and answer_only_rows(10, 1.0, 0) == set(range(10))
    with pytest.raises(ValueError, match="answer_only_fraction"):
        SFTConfig(model="m", output="o", answer_only_fraction=1.5)


def test_answer_only_resample_keeps_every_solution_and_offers_each_bare_target():
    from prime_train.sft import _problems

    pairs, _, _, bare = _problems(SFTConfig(model="m", output="o", examples=100, answer_only_fraction=0.6,
                                            answer_only_resample=True))  # fmt: skip
    rows = train_problems(100)
    assert [t for _, t in pairs] == [r["solution"] for r in rows]
    assert bare == {i: f"\\boxed{{{r['gold']}}}" for i, r in enumerate(rows)}
    fixed = _problems(SFTConfig(model="m", output="o", examples=100, answer_only_fraction=0.6))
    assert fixed[3] == {}


def test_resampled_presentations_draw_the_answer_only_share_per_presentation():
    import random

    from prime_train.sft import Example, presented

    worked = [Example([i, 1], 1) for i in range(10)]
    bare = {i: Example([i, 2], 1) for i in range(5)}  # only the first five problems have an alternative
    picks = [i for _ in range(400) for i in range(10)]
    chosen = presented(picks, worked, bare, 0.6, random.Random(0))
    bare_draws = [c.ids[1] == 2 for c, i in zip(chosen, picks) if i < 5]
    # 2,000 draws at p = 0.6: standard deviation 0.011 of the share; 5 of them either side.
    assert abs(sum(bare_draws) / len(bare_draws) - 0.6) < 0.055
    assert all(c.ids == [i, 1] for c, i in zip(chosen, picks) if i >= 5)
    assert presented(picks, worked, bare, 0.0, random.Random(0)) == [worked[i] for i in picks]
