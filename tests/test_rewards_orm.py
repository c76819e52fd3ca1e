"""The outcome reward model: a tiny ``Qwen2ForSequenceClassification`` built from a config (1 and 2 labels),
batched scores against unbatched forwards of the chat-formatted conversation, and ``prime-eval bon --orm``."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from prime_eval.cli import main  # noqa: E402
from prime_eval.scoring import InputError  # noqa: E402
from tests.tiny_model import one_torch_thread  # noqa: E402

PAIRS = [
    ("What is 2+2?", "2+2 = 4, so the answer is $\\boxed{4}$."),
    ("What is 2+2?", "\\boxed{5}"),
    ("What is 2+2?", ""),
    ("Solve $3y - 7 = 2y + 5$.", "Subtract $2y$ from both sides: $y - 7 = 5$, hence $y = 12$.\n\nFinal answer: 12."),
    ("Solve $3y - 7 = 2y + 5$.", "y = 12"),
]


def build_classifier(tiny_model, path, num_labels: int, seed: int = 0):
    """A random 2-layer Qwen2 classifier (hidden 32) sharing the tiny model's tokenizer, saved to ``path``."""
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForSequenceClassification

    tok = AutoTokenizer.from_pretrained(tiny_model)
    config = Qwen2Config(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=512, initializer_range=0.2, num_labels=num_labels,
        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
    )  # fmt: skip
    torch.manual_seed(seed)
    Qwen2ForSequenceClassification(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def classifiers(tiny_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("orm")
    return {n: build_classifier(tiny_model, root / f"labels{n}", n) for n in (1, 2, 3)}


def orm(path, **settings):
    from prime_eval.rewards.orm import ORM

    return ORM(str(path), progress=False, **settings)


def unbatched_logits(path, question, response):
    """One conversation, as ``apply_chat_template`` tokenises it, through the model alone: no padding."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    messages = [{"role": "user", "content": question}, {"role": "assistant", "content": response}]
    ids = tok(tok.apply_chat_template(messages, tokenize=False), add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0].tolist()


@pytest.mark.parametrize("labels", [1, 2])
def test_scores_equal_unbatched_forwards(classifiers, labels):
    questions, responses = [q for q, _ in PAIRS], [r for _, r in PAIRS]
    with one_torch_thread():
        want = []
        for q, r in PAIRS:
            logits = unbatched_logits(classifiers[labels], q, r)
            want.append(logits[0] if labels == 1 else logits[1] - logits[0])  # the log-odds of class 1
        for batch_size, side in [(1, "right"), (2, "left"), (5, "right"), (5, "left")]:
            got = orm(classifiers[labels], batch_size=batch_size, padding_side=side).score_texts(questions, responses)
            assert got == pytest.approx(want, rel=1e-4, abs=1e-6), (batch_size, side)
    assert len({round(s, 6) for s in want}) == len(want)  # distinct scores: the comparison means something


def test_describe_and_refusals(classifiers, tiny_model, tmp_path):
    d = orm(classifiers[2], batch_size=3).describe()
    assert d["name"] == "orm" and d["num_labels"] == 2 and d["score"].startswith("logit[1] - logit[0]")
    assert d["format"] == "chat template" and d["batch_size"] == 3 and d["model"] == str(classifiers[2])
    assert orm(classifiers[1], format="plain").describe()["score"] == "the logit"
    with pytest.raises(InputError, match="3 labels; 1 or 2 are supported"):
        orm(classifiers[3]).score_texts(["q"], ["r"])
    with pytest.raises(InputError, match="no such model folder"):
        orm(tmp_path / "missing")
    # A causal LM has no score head: loading it as a classifier would give random scores; refused instead.
    with pytest.raises(InputError, match="is not a classifier checkpoint .* it lacks score.weight"):
        orm(tiny_model).score_texts(["q"], ["r"])


def test_plain_format_reads_question_plus_response(classifiers):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = classifiers[1]
    tok, model = AutoTokenizer.from_pretrained(path), AutoModelForSequenceClassification.from_pretrained(path)
    with one_torch_thread(), torch.no_grad():
        want = [model(input_ids=torch.tensor([tok(q + r)["input_ids"]])).logits[0, 0].item() for q, r in PAIRS]
        got = orm(path, format="plain", batch_size=4).score_texts([q for q, _ in PAIRS], [r for _, r in PAIRS])
    assert got == pytest.approx(want, rel=1e-4, abs=1e-6)


def test_cli_orm_end_to_end(classifiers, tmp_path):
    rows = [{"problem_id": q, "problem": q, "gold": "4" if "2+2" in q else "12", "response": r} for q, r in PAIRS]
    cands = tmp_path / "cands.jsonl"
    cands.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    args = ["bon", "--candidates", str(cands), "--output", str(out), "--orm", str(classifiers[2]),
            "--batch-size", "2", "--padding-side", "left", "--quiet", "--workers", "1"]  # fmt: skip
    with one_torch_thread():
        assert main(args) == 0
        want = orm(classifiers[2]).score_texts([q for q, _ in PAIRS], [r for _, r in PAIRS])
    result = json.loads((out / "bon.json").read_text())
    assert result["reward_model"]["name"] == "orm" and result["reward_model"]["padding_side"] == "left"
    scored = [json.loads(x) for x in (out / "candidates.jsonl").read_text().splitlines()]
    # Batches of 2 against one batch: float32 padding/shape effects, as in the batched test above.
    assert [r["score"] for r in scored] == pytest.approx(want, rel=1e-4, abs=1e-6)


def test_cli_orm_refuses_prm_options(classifiers, tmp_path, capsys):
    cands = tmp_path / "c.jsonl"
    cands.write_text(json.dumps({"problem_id": 1, "gold": "1", "response": "1", "question": "q"}) + "\n")
    args = ["bon", "--candidates", str(cands), "--output", str(tmp_path / "o"), "--orm", str(classifiers[1])]
    assert main([*args, "--aggregate", "sum"]) == 2
    assert main([*args, "--ref-model", str(classifiers[1])]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["prime-eval bon: error: --aggregate: only for --implicit-prm",
                   "prime-eval bon: error: --ref-model: only for --implicit-prm"]  # fmt: skip
