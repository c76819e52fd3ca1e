"""HFBackend on a tiny random model built locally: determinism, per-sample seeds, resume, stops, finish reasons."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch  # noqa: E402

from prime_common.errors import UserError  # noqa: E402
from prime_eval.backends import BackendError, Request, SamplingConfig, get_backend  # noqa: E402
from prime_eval.backends.hf import HFBackend  # noqa: E402
from tests.tiny_model import BOS, one_torch_thread  # noqa: E402

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}]
PLAIN = "Compute $x$ such that"


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def backend(tiny_model):
    return HFBackend(str(tiny_model), batch_size=8)


def run(backend, requests, **sampling):
    """generate() -> {(key, sample): Completion}, checking every requested sample comes back exactly once."""
    out = {}

    def save(request, completion):
        assert (request.key, completion.sample) not in out
        out[request.key, completion.sample] = completion

    backend.generate(requests, SamplingConfig(**sampling), save)
    assert set(out) == {(r.key, j) for r in requests for j in r.samples}
    return out


def texts(out):
    return {k: c.text for k, c in out.items()}


def test_greedy_is_deterministic_and_same_for_every_sample(backend):
    requests = [Request("chat", CHAT, (0, 1, 2)), Request("plain", PLAIN, (0, 1))]
    first = run(backend, requests, max_tokens=24)
    assert texts(first) == texts(run(backend, requests, max_tokens=24))
    assert first["chat", 0].text == first["chat", 2].text and first["plain", 0].text == first["plain", 1].text
    assert first["chat", 0].text != first["plain", 0].text
    assert all(c.finish_reason == "length" and c.tokens == 24 and c.seconds > 0 for c in first.values())


def test_chat_prompt_is_the_rendered_template_without_a_second_bos(backend):
    rendered = backend.tokenizer.apply_chat_template(CHAT, add_generation_prompt=True, tokenize=False)
    assert rendered.startswith(BOS) and rendered.endswith("<|im_start|>assistant\n")
    # A plain prompt gets the tokenizer's BOS; the chat path must not add one on top of the template's.
    out = run(backend, [Request("chat", CHAT, (0,)), Request("plain", rendered[len(BOS) :], (0,))], max_tokens=16)
    assert out["chat", 0].text == out["plain", 0].text


def test_seeds_reproduce_samples_and_differ_between_indices(backend):
    requests = [Request("chat", CHAT, (0, 1, 2, 3)), Request("plain", PLAIN, (0, 1))]
    a = run(backend, requests, temperature=1.0, max_tokens=16, seed=7)
    b = run(backend, requests, temperature=1.0, max_tokens=16, seed=7)
    assert texts(a) == texts(b)
    assert len({a["chat", j].text for j in range(4)}) == 4
    # seed + j: sample 1 of seed 7 is sample 0 of seed 8
    c = run(backend, [Request("chat", CHAT, (0,))], temperature=1.0, max_tokens=16, seed=8)
    assert c["chat", 0].text == a["chat", 1].text


def test_resumed_subset_and_batch_composition_give_the_same_samples(tiny_model, backend):
    full = run(
        backend,
        [Request("chat", CHAT, (0, 1, 2, 3)), Request("plain", PLAIN, (0, 1, 2))],
        temperature=0.9,
        top_p=0.95,
        max_tokens=16,
    )
    alone = HFBackend(str(tiny_model), batch_size=1)
    resumed = run(
        alone,
        [Request("chat", CHAT, (3, 1)), Request("plain", PLAIN, (2,))],
        temperature=0.9,
        top_p=0.95,
        max_tokens=16,
    )
    assert texts(resumed) == {k: full[k].text for k in resumed}


def test_top_p_near_zero_is_greedy(backend):
    greedy = run(backend, [Request("p", PLAIN, (0,))], max_tokens=16)
    nucleus = run(backend, [Request("p", PLAIN, (0, 1, 2))], temperature=1.0, top_p=1e-6, max_tokens=16)
    assert {c.text for c in nucleus.values()} == {greedy["p", 0].text}


def test_stop_strings_truncate_at_the_first_one(backend):
    base = run(backend, [Request("p", PLAIN, (0,)), Request("c", CHAT, (0,))], max_tokens=40)
    for key in ("p", "c"):
        text = base[key, 0].text
        stop = text[10:13]
        later = text[text.index(stop) + 5 :][:3]
        cut = min(text.index(later), text.index(stop))
        out = run(backend, [Request(key, PLAIN if key == "p" else CHAT, (0,))], max_tokens=40, stop=(later, stop))
        got = out[key, 0]
        assert got.text == text[:cut]
        assert got.finish_reason == "stop" and got.tokens < 40


def test_max_tokens_gives_length(backend):
    out = run(backend, [Request("p", PLAIN, (0, 1))], temperature=1.0, max_tokens=3)
    assert all(c.finish_reason == "length" and c.tokens == 3 for c in out.values())


def test_eos_from_generation_config_stops_and_suggested_sampling_is_ignored(tiny_model, backend, tmp_path):
    """Chat models list extra end tokens in generation_config.json (Qwen: <|im_end|>, <|endoftext|>); their
    suggested temperature or repetition penalty must not leak into decoding."""
    greedy_ids = backend.tokenizer(PLAIN)["input_ids"]
    with torch.inference_mode():
        ids = backend.model.generate(
            torch.tensor([greedy_ids]),
            attention_mask=torch.ones(1, len(greedy_ids), dtype=torch.long),
            max_new_tokens=12,
            do_sample=False,
        )[0, len(greedy_ids) :].tolist()
    stopper = ids[4]
    first = ids.index(stopper)
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model, model_dir)
    config = {
        "eos_token_id": [backend.tokenizer.eos_token_id, stopper],
        "temperature": 0.7,
        "repetition_penalty": 1.5,
        "do_sample": True,
    }
    (model_dir / "generation_config.json").write_text(json.dumps(config))
    other = HFBackend(str(model_dir))
    got = run(other, [Request("p", PLAIN, (0,))], max_tokens=12)["p", 0]
    assert (got.finish_reason, got.tokens) == ("stop", first + 1)
    assert got.text == backend.tokenizer.decode(ids[:first], skip_special_tokens=True)
    ignored = other.describe()["ignored_generation_defaults"]
    assert ignored["temperature"] == 0.7 and ignored["repetition_penalty"] == 1.5


def test_describe_names_the_weights_and_settings(tiny_model, backend):
    info = backend.describe()
    assert info["backend"] == "hf" and info["model"] == str(tiny_model)
    assert info["dtype"] == "float32" and info["device"] == "cpu" and info["batch_size"] == 8
    assert info["torch"] == torch.__version__ and info["transformers"]
    assert len(info["weights_fingerprint"]) == 64
    json.dumps(info)  # goes into results.json as is


def test_registry_builds_it_and_bad_settings_are_clear(tiny_model, tmp_path):
    assert isinstance(get_backend("hf", model=str(tiny_model), batch_size=2), HFBackend)
    with pytest.raises(BackendError, match="cannot load model"):
        HFBackend(str(tmp_path / "nope"))
    with pytest.raises(UserError, match="unknown dtype 'int3'; choose one of auto, fp32"):
        HFBackend(str(tiny_model), dtype="int3")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA GPU"):
            HFBackend(str(tiny_model), device="cuda")


def test_empty_request_list_and_no_samples(backend):
    calls = []
    backend.generate([Request("p", PLAIN, ())], SamplingConfig(), lambda r, c: calls.append(c))
    backend.generate([], SamplingConfig(), lambda r, c: calls.append(c))
    assert calls == []


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_bf16_on_cuda_by_default(tiny_model):
    gpu = HFBackend(str(tiny_model))
    assert gpu.describe()["dtype"] == "bfloat16" and gpu.describe()["device"].startswith("cuda")
    requests = [Request("chat", CHAT, (0, 1)), Request("plain", PLAIN, (0,))]
    greedy = run(gpu, requests, max_tokens=16)
    assert texts(greedy) == texts(run(gpu, requests, max_tokens=16))
    sampled = run(gpu, requests, temperature=1.0, max_tokens=16, seed=3)
    assert texts(sampled) == texts(run(gpu, requests, temperature=1.0, max_tokens=16, seed=3))
    assert sampled["chat", 0].text != sampled["chat", 1].text


def test_picker_draws_from_the_tempered_nucleus():
    from prime_eval.engines.hf import _Picker

    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    rows = 4000
    scores = probs.log().expand(rows, -1).clone()
    gens = [torch.Generator().manual_seed(i) for i in range(rows)]

    def frequencies(temperature, top_p):
        forced = _Picker(gens, temperature, top_p)(None, scores)
        assert ((forced == 0).sum(-1) == 1).all()  # exactly one token left for generate()'s argmax
        return torch.bincount(forced.argmax(-1), minlength=4).float() / rows

    assert torch.allclose(frequencies(1.0, 1.0), probs, atol=0.03)
    tempered = probs ** (1 / 0.5) / (probs ** (1 / 0.5)).sum()
    assert torch.allclose(frequencies(0.5, 1.0), tempered, atol=0.03)
    nucleus = frequencies(1.0, 0.7)  # 0.5 < 0.7 <= 0.8: the first two tokens, renormalised
    assert nucleus[2:].sum() == 0 and abs(nucleus[0] - 0.5 / 0.8) < 0.03


def test_generation_stops_at_the_context_and_reports_tokens_as_it_goes(backend):
    """A limit past the model's context (512 positions) generates up to the context, not an index error; every
    decoding step is reported, so the sum of the reports is the tokens generated."""
    assert backend.context_length() == 512
    width = len(backend._encode(Request("p", PLAIN, (0,))))
    reported = []
    out = {}
    backend.generate(
        [Request("p", PLAIN, (0,))],
        SamplingConfig(temperature=1.0, seed=3, max_tokens=100_000),
        lambda r, c: out.setdefault(c.sample, c),
        on_tokens=reported.append,
    )
    got = out[0]
    assert got.tokens <= 512 - width
    assert got.finish_reason == "stop" or got.tokens == 512 - width
    assert sum(reported) == got.tokens and len(reported) >= got.tokens


def test_a_prompt_filling_the_context_is_an_empty_truncated_response_and_cuts_do_not_depend_on_the_batch(backend):
    """A prompt with no room left gets an empty 'length' response, not a crash of the run; a prompt cut by the
    context is cut at the same token whether it is generated alone or beside a shorter prompt."""
    long, near = "x " * 600, "y " * 245  # 602 and 491 tokens of a 512 context
    together = run(backend, [Request("long", long, (0,)), Request("near", near, (0,)), Request("p", PLAIN, (0,))],
                   temperature=1.0, seed=1, max_tokens=40)  # fmt: skip
    assert (together["long", 0].text, together["long", 0].finish_reason, together["long", 0].tokens) == (
        "",
        "length",
        0,
    )
    alone = run(backend, [Request("near", near, (0,))], temperature=1.0, seed=1, max_tokens=40)
    assert together["near", 0].text == alone["near", 0].text and 0 < together["near", 0].tokens <= 21


def test_requests_with_their_own_limits_in_one_call_match_separate_calls(backend):
    """The runner pools benchmarks with different token limits into one call: each request keeps its own."""
    pooled = run(backend, [Request("short", PLAIN, (0, 1), max_tokens=3), Request("long", CHAT, (0, 1), max_tokens=9)],
                 temperature=1.0, seed=4, max_tokens=40)  # fmt: skip
    assert [pooled[key, j].tokens for key in ("short", "long") for j in (0, 1)] == [3, 3, 9, 9]
    alone = run(backend, [Request("long", CHAT, (0, 1))], temperature=1.0, seed=4, max_tokens=9)
    assert texts(alone) == {k: v for k, v in texts(pooled).items() if k[0] == "long"}
