"""The implicit PRM: step aggregation on hand-made tensors, exact step ends against re-tokenised prefixes, the
zero-reward property of PRM == reference, batched scores against a slow per-candidate recomputation, and
``prime-eval bon --implicit-prm`` end to end on CPU."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from prime_eval.cli import main  # noqa: E402
from prime_eval.rewards.formatting import Framed, encode, frame, offsets_tokenizer  # noqa: E402
from prime_eval.rewards.steps import aggregate, join_step_ends, split_step_ends, step_values  # noqa: E402
from prime_eval.scoring import InputError  # noqa: E402
from tests.tiny_model import one_torch_thread  # noqa: E402

# --- step rewards and aggregation, by hand -----------------------------------------------------------------------

# Two rows. Row 0: token scores 0 (prompt), 1, 2, -3, 4 and a pad; steps end at tokens 2, 3, 4. With coef 0.5 the
# running Q is 0, .5, 1.5, 0, 2, 2: accumulative [1.5, 0, 2], single [1.5, -1.5, 2]. Row 1: scores 0, -2, 0, 6, 0, 0
# (its 4th position is padding), steps end at 1 and 3: Q -1, -1, 2 -> accumulative [-1, 2], single [-1, 3].
Q_TOKENS = [[0.0, 1.0, 2.0, -3.0, 4.0, 0.0], [0.0, -2.0, 0.0, 6.0, 0.0, 0.0]]
ENDS = [[2, 3, 4], [1, 3, 0]]
VALID = [[True, True, True], [True, True, False]]
BY_HAND = {
    ("accumulative", "min"): [0.0, -1.0],
    ("accumulative", "sum"): [3.5, 1.0],
    ("accumulative", "last"): [2.0, 2.0],
    ("accumulative", "mean"): [3.5 / 3, 0.5],
    ("single", "min"): [-1.5, -1.0],
    ("single", "sum"): [2.0, 2.0],  # single steps telescope: their sum is the last Q
    ("single", "last"): [2.0, 3.0],
    ("single", "mean"): [2.0 / 3, 1.0],
}


def test_step_values_by_hand():
    q, ends, valid = torch.tensor(Q_TOKENS), torch.tensor(ENDS), torch.tensor(VALID)
    assert step_values(q, ends, valid, 0.5, "accumulative").tolist() == [[1.5, 0.0, 2.0], [-1.0, 2.0, 0.0]]
    assert step_values(q, ends, valid, 0.5, "single").tolist() == [[1.5, -1.5, 2.0], [-1.0, 3.0, 0.0]]


@pytest.mark.parametrize(("kind", "how"), sorted(BY_HAND))
def test_aggregate_by_hand(kind, how):
    q, ends, valid = torch.tensor(Q_TOKENS), torch.tensor(ENDS), torch.tensor(VALID)
    scores = aggregate(step_values(q, ends, valid, 0.5, kind), valid, how).tolist()
    assert scores == pytest.approx(BY_HAND[kind, how], abs=1e-12)


def test_aggregate_refuses_unknown_and_empty():
    values, valid = torch.zeros(1, 2, dtype=torch.float64), torch.tensor([[True, False]])
    with pytest.raises(ValueError, match="aggregate must be one of"):
        aggregate(values, valid, "max")
    with pytest.raises(ValueError, match="at least one step"):
        aggregate(values, torch.zeros_like(valid), "min")
    with pytest.raises(ValueError, match="step reward must be one of"):
        step_values(torch.zeros(1, 3), torch.zeros(1, 1, dtype=torch.long), valid[:, :1], 1.0, "total")


# --- steps in characters ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "ends"),
    [
        ("a\n\nb\n\nc", [3, 6, 7]),
        ("a", [1]),
        ("", [0]),
        ("\n\n", [2]),
        ("\n\na\n\nb", [5, 6]),  # a leading separator joins the first step
        ("a\n\nb\n\n", [3, 6]),  # a trailing one joins the last
        ("a\n\n\n\nb", [5, 6]),  # the separator twice: no empty step between
        ("a\n\n  \n\nb\n\n \n", [7, 12]),  # blank pieces extend the step before them
        ("a\n\n\nb", [3, 5]),  # non-overlapping, left to right, as str.split
    ],
)
def test_split_step_ends(response, ends):
    assert split_step_ends(response, "\n\n") == ends


def test_join_step_ends_keeps_every_given_step():
    text, ends = join_step_ends(["$$x\n\ny$$", "", "z"], "\n\n")  # a separator inside LaTeX stays in its step
    assert text == "$$x\n\ny$$\n\n\n\nz" and ends == [10, 12, 13]
    with pytest.raises(ValueError):
        split_step_ends("a", "")


# --- steps in tokens: exact ends vs re-tokenised prefixes ------------------------------------------------------

TRICKY = [
    ("What is 2+2?", ["Step 1: add", "2+2 = 4", "The answer is $\\boxed{4}$."]),
    ("Q", ["", "lead with the separator", "and end with one", ""]),  # empty first and last steps
    ("Q", ["one", "", "", "two"]),  # empty steps in the middle
    ("Compute", ["$$\\frac{1}{2}\n\n+ \\frac{1}{3}$$", "so $\\frac{5}{6}$\n\n\n", " done"]),  # separator in LaTeX
    ("Unicode", ["Soit é = ∑ᵢ xᵢ", "donc π ≈ 3.14 😀", "fin ∎"]),  # characters the tiny tokenizer drops
    ("Q", ["a  ", "   b\t", "\nc"]),  # whitespace around the separator
]


def prefix_step_ends(tokenizer, f: Framed, char_ends, chat: bool) -> list[int]:
    """The reference scripts' way: tokenise the formatted text up to the end of each step (its separator
    included; the last step up to the end-of-turn marker) and take the last token of that prefix."""
    bounds = [f.start + e for e in char_ends[:-1]] + [f.turn_end]
    return [len(tokenizer(f.text[:b], add_special_tokens=not chat)["input_ids"]) - 1 for b in bounds]


@pytest.mark.parametrize("chat", [True, False])
def test_step_ends_match_retokenised_prefixes(tiny_model, chat):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    backend = offsets_tokenizer(tok)
    for question, steps in TRICKY:
        response, char_ends = join_step_ends(steps, "\n\n")
        f = frame(tok, question, response, chat)
        (enc,) = encode(backend, [f], [char_ends], add_special_tokens=not chat)
        assert enc.ids == tok(f.text, add_special_tokens=not chat)["input_ids"]  # the same tokens as the model's
        assert enc.step_ends == prefix_step_ends(tok, f, char_ends, chat), (question, steps)
        if chat:  # ChatML: the last step ends on <|im_end|>, the first response token follows "assistant\n"
            assert tok.convert_ids_to_tokens(enc.ids[enc.last]) == "<|im_end|>"
            assert enc.first == len(tok(f.text[: f.start], add_special_tokens=False)["input_ids"])


def _merging_tokenizer():
    """A GPT-2-style byte-level BPE (full byte alphabet, GPT-2 split regex) that learned "\\n\\n" as one token.
    Its regex splits "\\n\\nThen" as "\\n" + "\\n" + "Then" but a text *ending* in "\\n\\n" as one piece."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(["Step one.\n\n", "Then the sum é is 4.\n\n", "ok\n\n"] * 20, trainer=trainer)
    tok.post_processor = processors.ByteLevel(trim_offsets=True)  # as GPT-2's own tokenizer.json
    return PreTrainedTokenizerFast(tokenizer_object=tok)


def test_where_prefix_retokenisation_is_off_by_one():
    """Documented difference: with GPT-2's split regex a prefix ending in the separator tokenises it as one
    "\\n\\n" token, while inside the response it is two "\\n" tokens. Re-tokenising the prefix then ends step 1
    one token early (on the first "\\n", before its separator is read); the offset mapping ends it on the token
    that holds the separator's last character. Qwen2/Llama-3 regexes keep "\\n\\n" whole either way."""
    tok = _merging_tokenizer()
    response, char_ends = join_step_ends(["Step one.", "Then the sum é is 4."], "\n\n")
    f = frame(tok, "", response, chat=False)
    (enc,) = encode(offsets_tokenizer(tok), [f], [char_ends], add_special_tokens=True)
    pieces = tok.convert_ids_to_tokens(enc.ids)
    assert pieces[3:5] == ["Ċ", "Ċ"] and "ĊĊ" in tok.get_vocab()
    assert enc.step_ends == [4, len(enc.ids) - 1]
    assert prefix_step_ends(tok, f, char_ends, chat=False) == [3, len(enc.ids) - 1]
    # Multi-byte characters split into byte tokens share offsets; the last piece ends the character.
    (enc,) = encode(offsets_tokenizer(tok), [frame(tok, "", "∑\n∑", False)], [[2, 3]], add_special_tokens=True)
    assert len(enc.ids) == 7 and enc.step_ends == [3, 6]  # 3 byte tokens, "\n", 3 byte tokens
    # Trimmed offsets would start " the" after its space; the private copy does not trim.
    assert tok("a the", return_offsets_mapping=True)["offset_mapping"][1] == (2, 5)
    assert offsets_tokenizer(tok).encode("a the").offsets[1] == (1, 5)


def test_reference_collator_on_chatml_lands_on_the_next_step(tiny_model):
    """docs/reward-models.md: ImplicitPRM's collator strips each chat-formatted prefix, cuts Llama 3's end-of-turn
    markers only, appends "\n\n" and takes the prefix's last token. On a ChatML template the prefix keeps its
    <|im_end|>, so every intermediate step end falls on the next step's first token; the last step (the full
    text, stripped) ends on <|im_end|> as ours does."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    question, steps = TRICKY[0]

    def render(content):
        msgs = [{"role": "user", "content": question}, {"role": "assistant", "content": content}]
        return tok.apply_chat_template(msgs, tokenize=False).strip()

    reference = []
    for k in range(1, len(steps) + 1):
        conv = render("\n\n".join(steps[:k])).removesuffix("<|eot_id|>") + ("\n\n" if k < len(steps) else "")
        reference.append(len(tok(conv, add_special_tokens=False)["input_ids"]) - 1)
    response, char_ends = join_step_ends(steps, "\n\n")
    (enc,) = encode(offsets_tokenizer(tok), [frame(tok, question, response, True)], [char_ends], False)
    assert reference[:-1] == [e + 1 for e in enc.step_ends[:-1]] and reference[-1] == enc.step_ends[-1]
    pieces = tok.convert_ids_to_tokens(enc.ids)
    assert [pieces[i] for i in enc.step_ends[:-1]] == ["Ċ", "Ċ"]  # ours: the separator's last token


# --- the model ---------------------------------------------------------------------------------------------------

CANDIDATES = [
    ("What is 2+2?", "Step 1: 2+2\n\n= 4\n\nThe answer is $\\boxed{4}$."),
    ("What is 2+2?", "It is 5.\n\n\\boxed{5}"),
    ("What is 2+2?", "\n\nFour, \\boxed{4}\n\n"),
    ("Solve $3y - 7 = 2y + 5$.", "Subtract 2y:\n\n$y - 7 = 5$\n\nso $y = 12$.\n\nFinal answer: 12."),
    ("Solve $3y - 7 = 2y + 5$.", "y = 12"),
    ("Solve $3y - 7 = 2y + 5$.", ""),
]


@pytest.fixture(scope="module")
def perturbed(tiny_model, tmp_path_factory):
    """The tiny model with one weight matrix nudged: a PRM that differs from its reference."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path_factory.mktemp("perturbed")
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    weight = model.model.layers[0].mlp.down_proj.weight
    with torch.no_grad():
        weight.add_(0.05 * torch.randn(weight.shape, generator=torch.Generator().manual_seed(1)))
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(out)
    return out


def prm(model, ref, **settings):
    from prime_eval.rewards.implicit_prm import ImplicitPRM

    return ImplicitPRM(model=str(model), ref=None if ref is None else str(ref), progress=False, **settings)


def test_prm_equal_to_reference_gives_zero_rewards(tiny_model):
    from prime_eval.rewards.token_rewards import implicit_process_rewards, token_logprobs

    scorer = prm(tiny_model, tiny_model, batch_size=4)
    with one_torch_thread():
        qs = [q for q, _ in CANDIDATES]
        steps = [r.split("\n\n") for _, r in CANDIDATES]
        for values in scorer.step_rewards(qs, steps) + scorer.step_rewards(qs[:2], [["a"], ["b", "c"]]):
            assert values and all(v == 0.0 for v in values)  # exactly: same weights, same inputs
        ids = torch.tensor([scorer.tokenizer("Step 1: 2+2 = 4")["input_ids"]])
        model, ref = scorer.models()
        q = implicit_process_rewards(token_logprobs(model, ids, ids * 0 + 1), token_logprobs(ref, ids, ids * 0 + 1),
                                     torch.ones_like(ids, dtype=torch.bool))  # fmt: skip
        assert q.abs().max().item() == 0.0


def slow_step_q(scorer, question, response, beta):
    """Per candidate, per step: forward the re-tokenised prefix alone (no batch, no padding) and add up
    beta * (log pi_phi - log pi_ref) over its response tokens with a plain log_softmax."""
    tok, (model, ref) = scorer.tokenizer, scorer.models()
    f = frame(tok, question, response, chat=True)
    first = len(tok(f.text[: f.start], add_special_tokens=False)["input_ids"])
    bounds = [f.start + e for e in split_step_ends(response, "\n\n")[:-1]] + [f.turn_end]
    out = []
    for b in bounds:
        ids = torch.tensor([tok(f.text[:b], add_special_tokens=False)["input_ids"]])

        def logp(m, ids=ids):
            return torch.log_softmax(m(input_ids=ids).logits[0, :-1].double(), -1).gather(1, ids[0, 1:, None])[:, 0]

        diff = logp(model) - (logp(ref) if ref is not None else 0)
        out.append(beta * diff[first - 1 :].sum().item())  # diff[t - 1] scores token t
    return out


def test_batched_scores_equal_slow_recomputation(tiny_model, perturbed):
    questions, responses = [q for q, _ in CANDIDATES], [r for _, r in CANDIDATES]
    with one_torch_thread():
        fast = prm(perturbed, tiny_model, batch_size=4).response_step_rewards(questions, responses)
        slow_scorer = prm(perturbed, tiny_model)
        slow = [slow_step_q(slow_scorer, q, r, 0.001) for q, r in zip(questions, responses)]
        for (values, score), acc in zip(fast, slow):
            assert values == pytest.approx(acc, rel=1e-4, abs=1e-9)
            assert score == pytest.approx(min(acc), rel=1e-4, abs=1e-9)
        assert all(abs(v) > 1e-6 for values, _ in fast for v in values)  # a real, nonzero signal
        # Batch size, padding side, step reward and aggregate: every combination against the one unbatched run.
        for batch_size, side in [(1, "right"), (3, "left"), (6, "right")]:
            for kind in ("accumulative", "single"):
                for how in ("min", "sum", "last", "mean"):
                    got = prm(perturbed, tiny_model, batch_size=batch_size, padding_side=side, step_reward=kind,
                              aggregate=how, beta=0.5).response_step_rewards(questions, responses)  # fmt: skip
                    for (values, score), acc in zip(got, slow):
                        acc = [500 * a for a in acc]  # beta 0.5 instead of 0.001
                        steps = acc if kind == "accumulative" else [b - a for a, b in zip([0.0, *acc], acc)]
                        want = {"min": min, "sum": sum, "last": lambda s: s[-1], "mean": lambda s: sum(s) / len(s)}
                        assert values == pytest.approx(steps, rel=1e-4, abs=1e-7)
                        assert score == pytest.approx(want[how](steps), rel=1e-4, abs=1e-7)


def test_without_reference_scores_log_pi_phi(perturbed):
    questions, responses = [q for q, _ in CANDIDATES], [r for _, r in CANDIDATES]
    with one_torch_thread():
        scorer = prm(perturbed, None, aggregate="last", batch_size=5)
        got = [s for _, s in scorer.response_step_rewards(questions, responses)]
        slow = [slow_step_q(scorer, q, r, 0.001)[-1] for q, r in zip(questions, responses)]
    assert got == pytest.approx(slow, rel=1e-4) and all(s < 0 for s in got)  # a sum of log-probabilities
    assert scorer.describe()["variant"] == "w/o ref" and scorer.describe()["ref_model"] is None


def test_settings_are_checked_and_described(tiny_model, tmp_path):
    with pytest.raises(InputError, match="no such model folder"):
        prm(tmp_path / "nope", None)
    with pytest.raises(InputError, match="not a model folder"):
        prm(tmp_path, None)
    with pytest.raises(InputError, match="aggregate must be one of"):
        prm(tiny_model, None, aggregate="max")
    d = prm(tiny_model, tiny_model, beta=0.05, step_separator="\n", step_reward="single", aggregate="sum").describe()
    assert {k: d[k] for k in ("name", "beta", "step_separator", "step_reward", "aggregate", "format", "variant")} == {
        "name": "implicit_prm", "beta": 0.05, "step_separator": "\n", "step_reward": "single", "aggregate": "sum",
        "format": "chat template", "variant": "w/ ref"}  # fmt: skip
    assert d["ref_model"] == str(tiny_model) and d["dtype"] == "float32" and d["device"] == "cpu"
    assert prm(tiny_model, None, format="plain").describe()["format"] == "plain concatenation"
    other = tmp_path / "other-tokenizer"  # the tiny model's config with another vocabulary
    other.mkdir()
    (other / "config.json").write_text((tiny_model / "config.json").read_text())
    _merging_tokenizer().save_pretrained(other)
    with pytest.raises(InputError, match="has another tokenizer than the PRM"):
        prm(tiny_model, other)


# --- end to end --------------------------------------------------------------------------------------------------


def test_cli_implicit_prm_end_to_end(tiny_model, perturbed, tmp_path, capsys):
    rows = [{"problem_id": i // 3, "question": q, "gold": "4" if i < 3 else "12", "response": r}
            for i, (q, r) in enumerate(CANDIDATES)]  # fmt: skip
    cands = tmp_path / "cands.jsonl"
    cands.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    args = ["bon", "--candidates", str(cands), "--output", str(out), "--implicit-prm", str(perturbed),
            "--ref-model", str(tiny_model), "--aggregate", "sum", "--step-separator", "\\n\\n", "--batch-size", "2",
            "--quiet", "--workers", "1"]  # fmt: skip
    with one_torch_thread():
        assert main(args) == 0
    result = json.loads((out / "bon.json").read_text())
    rm = result["reward_model"]
    assert rm["name"] == "implicit_prm" and rm["model"] == str(perturbed) and rm["ref_model"] == str(tiny_model)
    assert (rm["beta"], rm["aggregate"], rm["step_reward"]) == (0.001, "sum", "accumulative")
    assert rm["step_separator"] == "\n\n" and rm["batch_size"] == 2 and rm["format"] == "chat template"
    scored = [json.loads(x) for x in (out / "candidates.jsonl").read_text().splitlines()]
    with one_torch_thread():
        want = prm(perturbed, tiny_model, aggregate="sum").response_step_rewards(
            [q for q, _ in CANDIDATES], [r for _, r in CANDIDATES]
        )
    # The CLI scores in batches of 2, the reference call in one batch: padding changes the float32 matmul shapes, so
    # each token's log-ratio may move by a few float32 rounding steps of the logits (bounded here by 1e-5 nats, ~100
    # ulps at |log p| ~ 10). A "sum" over accumulative steps counts each token once per step that contains it, so a
    # score may move by beta * 1e-5 * steps * tokens (tokens <= characters). Not a relative bound: a score is a
    # difference of two models' log-probs and can sit arbitrarily close to 0.
    for row, (_, response), (_, expected) in zip(scored, CANDIDATES, want):
        bound = 0.001 * 1e-5 * (response.count("\n\n") + 1) * max(len(response), 1)
        assert row["score"] == pytest.approx(expected, rel=0, abs=bound)
    assert all(math.isfinite(r["score"]) and r["score"] != 0 for r in scored)
    assert [r["correct"] for r in scored[:3]] == [True, False, True]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--implicit-prm", "{tiny}"], "needs --ref-model MODEL, or --no-ref"),
        (["--implicit-prm", "{tmp}/missing", "--no-ref"], "the implicit PRM '{tmp}/missing': no such model folder"),
        (["--implicit-prm", "{tiny}", "--ref-model", "./nope"], "the reference model './nope': no such model folder"),
        (["--oracle", "--beta", "0.1"], "--beta: only for --implicit-prm or --orm"),
        (["--oracle", "--no-ref"], "--no-ref: only for --implicit-prm or --orm"),
    ],
)
def test_cli_errors_are_one_line(tiny_model, tmp_path, capsys, extra, message):
    cands = tmp_path / "c.jsonl"
    cands.write_text(json.dumps({"problem_id": 1, "gold": "1", "response": "1", "question": "q"}) + "\n")

    def fill(text):
        return text.replace("{tiny}", str(tiny_model)).replace("{tmp}", str(tmp_path))

    args, message = [fill(a) for a in extra], fill(message)
    assert main(["bon", "--candidates", str(cands), "--output", str(tmp_path / "o"), "--quiet", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
