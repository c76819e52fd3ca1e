"""Offline implicit-PRM training on the tiny model: data checks, pairing, formatting, CE and DPO runs that learn a
real separation, a frozen reference, and the saved folder (loaded back, and scored by ImplicitPRM)."""

from __future__ import annotations

import argparse
import json
import math

import pytest

from prime_common.jsonl import OutputError
from prime_eval.scoring import InputError
from prime_train.offline_prm import (
    PRMExample,
    PRMTrainSettings,
    add_prm_arguments,
    cmd_prm,
    encode_examples,
    make_pairs,
    pairwise_dpo_loss,
    read_examples,
    train,
)

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tests.tiny_model import one_torch_thread  # noqa: E402

# Right and wrong responses share everything but the boxed answer, so what the PRM must learn is one token
# string; the tiny model picks it up in a few CPU steps.
GOOD, BAD = "The answer is \\boxed{4}.", "The answer is \\boxed{0}."


def _rows(n_prompts=8):
    rows = []
    for a in range(n_prompts):
        steps = f"First, add {a} and 3.\n\nThen simplify."
        rows.append({"prompt": f"Compute {a} + 3.", "response": f"{steps}\n\n{GOOD}", "label": 1})
        rows.append({"prompt": f"Compute {a} + 3.", "response": f"{steps}\n\n{BAD}", "label": 0})
    return rows


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _load(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32), AutoTokenizer.from_pretrained(path)


def _outcome_scores(prm, ref, tokenizer, examples):
    """Summed token log-ratio of every example's response (the implicit PRM's outcome reward, beta-free)."""
    from prime_eval.rewards.token_rewards import implicit_process_rewards, token_logprobs

    out = []
    with torch.no_grad():
        for t in encode_examples(tokenizer, examples, 512):
            ids_t = torch.tensor([t.ids])
            attn = torch.ones_like(ids_t)
            mask = torch.zeros_like(ids_t, dtype=torch.bool)
            mask[0, t.first : t.last + 1] = True
            q = implicit_process_rewards(token_logprobs(prm, ids_t, attn), token_logprobs(ref, ids_t, attn), mask)
            out.append(q.sum().item())
    return out


def _auc(scores, labels):
    """P(score of a right response > score of a wrong one), ties counting half."""
    pos = [s for s, y in zip(scores, labels) if y > 0.5]
    neg = [s for s, y in zip(scores, labels) if y <= 0.5]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def test_read_examples_reports_every_bad_row(tmp_path):
    rows = [
        {"prompt": "p", "response": "r", "label": True},
        {"prompt": "p", "response": "r"},
        {"prompt": "p", "response": "r", "label": 1.5},
        {"prompt": "p", "response": "", "label": 0},
        {"prompt": "p", "response": "r", "label": "yes"},
    ]
    path = _write(tmp_path / "d.jsonl", rows)
    with pytest.raises(InputError) as info:
        read_examples(path, PRMTrainSettings(str(path), "m", "o"))
    msg = str(info.value)
    assert f"{path}:2: missing or null field 'label'" in msg
    assert f"{path}:3: 'label' must be a number in [0, 1]" in msg and f"{path}:5:" in msg
    assert f"{path}:4: 'prompt' and 'response' must be non-empty strings" in msg and f"{path}:1" not in msg
    ok = read_examples(_write(tmp_path / "ok.jsonl", rows[:1]), PRMTrainSettings("", "m", "o"))
    assert ok[0].label == 1.0


def test_make_pairs_by_hand():
    ex = [PRMExample("", p, "r", y) for p, y in [("A", 1), ("A", 0), ("B", 1), ("A", 0), ("B", 1), ("C", 0.5)]]
    ex.append(PRMExample("", "C", "r", 0.2))
    assert make_pairs(ex, 8, seed=0) == [(0, 1), (0, 3), (5, 6)]  # B has no pair: equal labels
    capped = make_pairs(ex, 1, seed=0)
    assert len(capped) == 2 and capped[0] in [(0, 1), (0, 3)] and capped[1] == (5, 6)
    with pytest.raises(InputError, match="different labels"):
        make_pairs(ex[2:5:2], 8, seed=0)


def test_pairwise_dpo_loss_value():
    loss = pairwise_dpo_loss(torch.tensor([0.0, 20.0]), torch.tensor([0.0, 0.0]), beta=0.05)
    assert loss.item() == pytest.approx((math.log(2) + math.log(1 + math.exp(-1.0))) / 2)


def test_encoding_is_the_implicit_prms(tiny_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    ex = PRMExample("d.jsonl:1", "Compute 1 + 3.", GOOD, 1.0)
    [t] = encode_examples(tok, [ex], 512)
    chat = [{"role": "user", "content": ex.prompt}, {"role": "assistant", "content": GOOD}]
    assert t.ids == tok(tok.apply_chat_template(chat, tokenize=False), add_special_tokens=False)["input_ids"]
    # The response and its end-of-turn token are trained on (PRIME's T_i includes EOS); the template's "\n" after
    # it is not.
    assert tok.decode(t.ids[t.first : t.last + 1]) == GOOD + "<|im_end|>" and t.last == len(t.ids) - 2
    [p] = encode_examples(tok, [ex], 512, fmt="plain")
    assert p.ids == tok(ex.prompt + GOOD)["input_ids"] and tok.decode(p.ids[p.first :]) == GOOD
    [short] = encode_examples(tok, [ex], t.first + 2)
    assert (len(short.ids), short.first, short.last, short.cut, t.cut) == (
        t.first + 2,
        t.first,
        t.first + 1,
        True,
        False,
    )
    with pytest.raises(InputError, match="d.jsonl:1: the prompt is .* leaving no response token"):
        encode_examples(tok, [ex], t.first)


@pytest.mark.parametrize("objective", ["ce", "dpo"])
def test_training_learns_the_outcome_and_leaves_the_reference_alone(tiny_model, tmp_path, objective):
    data = _write(tmp_path / "d.jsonl", _rows())
    settings = PRMTrainSettings(
        str(data), str(tiny_model), str(tmp_path / "out"), objective=objective, lr=1e-3, epochs=6, batch_size=8,
        micro_batch_size=3)  # 8 is not a multiple of 3: accumulation over uneven micro-batches  # fmt: skip
    examples = read_examples(data, settings)
    labels = [ex.label for ex in examples]
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "metrics.jsonl").write_text('{"step": 99}\n' * 50)  # an earlier run's: replaced
    prm, tok = _load(tiny_model)
    ref, _ = _load(tiny_model)
    before_prm = {k: v.clone() for k, v in prm.state_dict().items()}
    before_ref = {k: v.clone() for k, v in ref.state_dict().items()}
    with one_torch_thread():
        before = _outcome_scores(prm, ref, tok, examples)
        result = train(prm, ref, tok, examples, settings, progress=False)
        after = _outcome_scores(prm, ref, tok, examples)

    assert before == [0.0] * len(examples)  # pi_phi == pi_ref: every reward is 0 (docs/algorithm.md §implicit-reward)
    assert _auc(before, labels) == 0.5 and _auc(after, labels) == 1.0
    beta = settings.beta
    ce = [torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor([beta * s]), torch.tensor([float(y)]))
          for s, y in zip(after, labels)]  # fmt: skip
    assert sum(ce).item() / len(ce) < math.log(2) - 0.05  # the CE over the whole set fell from log 2

    steps = 6 * math.ceil((16 if objective == "ce" else 8) / 8)
    log = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert (tmp_path / "out" / "tensorboard").is_dir()  # the trainer's log, TensorBoard too
    assert result.optimizer_steps == len(log) == steps and [r["step"] for r in log] == list(range(1, steps + 1))
    assert log[0]["loss"] == pytest.approx(math.log(2)) and log[-1]["loss"] < log[0]["loss"] - 0.05
    assert log[-1]["pairwise_acc"] == 1.0

    assert any(not torch.equal(before_prm[k], v) for k, v in prm.state_dict().items())
    assert all(torch.equal(before_ref[k], v) for k, v in ref.state_dict().items())
    assert not any(p.requires_grad for p in ref.parameters()) and not ref.training


def _cli_args(argv):
    parser = argparse.ArgumentParser()
    add_prm_arguments(parser)
    return parser.parse_args(argv)


def _processbench_rows(prompts):
    """ProcessBench rows from the training pattern: the wrong solutions' first error is their last step."""
    rows = []
    for a in prompts:
        steps = [f"First, add {a} and 3.", "Then simplify."]
        rows.append({"id": f"{a}-right", "problem": f"Compute {a} + 3.", "steps": [*steps, GOOD], "label": -1})
        rows.append({"id": f"{a}-wrong", "problem": f"Compute {a} + 3.", "steps": [*steps, BAD], "label": 2})
    return rows


def test_cli_trains_a_folder_that_implicit_prm_scores(tiny_model, tmp_path, capsys):
    from prime_eval.cli import main as eval_main
    from prime_eval.rewards.implicit_prm import ImplicitPRM

    data = _write(tmp_path / "d.jsonl", _rows())
    out = tmp_path / "prm-é"
    args = _cli_args(["--data", str(data), "--model", str(tiny_model), "--output", str(out), "--lr", "1e-3",
                      "--epochs", "8", "--batch-size", "8", "--device", "cpu", "--quiet"])  # fmt: skip
    with one_torch_thread():
        assert cmd_prm(args) == 0
    assert "16 steps, loss 0.6931 ->" in capsys.readouterr().out
    text = (out / "prm_training.json").read_text(encoding="utf-8")
    assert "prm-é" in text  # written as readable UTF-8, not \u escapes
    meta = json.loads(text)
    assert meta["reference"] == str(tiny_model) and meta["settings"]["lr"] == 1e-3
    assert meta["settings"]["objective"] == "ce" and meta["result"]["optimizer_steps"] == 16

    # The folder loads into ImplicitPRM, whose response scores (beta * sum q: "last" accumulative step reward)
    # now rank every right training response above every wrong one; before training all were 0.
    examples = read_examples(data, PRMTrainSettings("", "", ""))
    questions, responses = [ex.prompt for ex in examples], [ex.response for ex in examples]
    labels = [ex.label for ex in examples]
    kw = {"ref": str(tiny_model), "aggregate": "last", "device": "cpu", "progress": False}
    with one_torch_thread():
        before = [sc for _, sc in ImplicitPRM(str(tiny_model), **kw).response_step_rewards(questions, responses)]
        after = [sc for _, sc in ImplicitPRM(str(out), **kw).response_step_rewards(questions, responses)]
    assert before == [0.0] * len(examples) and _auc(before, labels) == 0.5
    assert _auc(after, labels) == 1.0

    # And it finds the wrong step of unseen problems (threshold calibrated on the training problems). Measured on
    # the session's tiny model: F1 1.0 (a random reference-equal PRM scores 0: nothing is ever flagged).
    cal = _write(tmp_path / "cal.jsonl", _processbench_rows(range(8)))
    test = _write(tmp_path / "test.jsonl", _processbench_rows(range(8, 12)))
    argv = ["step-eval", "--data", str(test), "--ref-model", str(tiny_model), "--calibration", str(cal),
            "--device", "cpu", "--quiet"]  # fmt: skip
    with one_torch_thread():
        assert eval_main([*argv, "--implicit-prm", str(tiny_model), "--output", str(tmp_path / "se0")]) == 0
        assert eval_main([*argv, "--implicit-prm", str(out), "--output", str(tmp_path / "se1")]) == 0
    f1_before = json.loads((tmp_path / "se0" / "step_eval.json").read_text())["overall"]["f1"]
    f1_after = json.loads((tmp_path / "se1" / "step_eval.json").read_text())["overall"]["f1"]
    assert f1_before == 0.0 and f1_after >= 0.75


def test_cli_bad_input_is_a_clear_error(tmp_path, capsys):
    from prime_train.cli import main as train_main

    data = _write(tmp_path / "d.jsonl", [{"prompt": "p", "response": "r", "label": 2}])
    argv = ["prm", "--data", str(data), "--model", "unused", "--output", str(tmp_path / "o")]
    assert train_main(argv) == 2
    assert f"prime-train prm: error: {data}:1: 'label' must be a number in [0, 1]" in capsys.readouterr().err
    assert train_main([*argv, "--lr", "0"]) == 2
    assert "lr must be a positive number" in capsys.readouterr().err
    good = _write(tmp_path / "g.jsonl", [{"prompt": "p", "response": "r", "label": 1}])
    argv = ["prm", "--data", str(good), "--model", "unused", "--output", str(tmp_path / "o")]
    assert train_main([*argv, "--device", "cud"]) == 2
    assert "prime-train prm: error: " in (err := capsys.readouterr().err) and "device 'cud'" in err
    argv = ["prm", "--data", str(good), "--model", str(tmp_path / "none"), "--output", str(tmp_path / "o")]
    assert train_main(argv) == 2 and "no such model folder" in capsys.readouterr().err


def test_an_output_that_is_a_file_is_refused_before_training(tiny_model, tmp_path):
    data = _write(tmp_path / "d.jsonl", _rows(1))
    (tmp_path / "out").write_text("a file where the output folder should be")
    settings = PRMTrainSettings(str(data), str(tiny_model), str(tmp_path / "out"))
    prm, tok = _load(tiny_model)
    with pytest.raises(OutputError, match=r"cannot write .*out: it is a file, not a folder"):
        train(prm, prm, tok, read_examples(data, settings), settings, progress=False)
