"""VLLMBackend without vLLM: the missing-package message, and what it hands to a fake ``vllm`` module."""

from __future__ import annotations

import sys
from types import ModuleType, SimpleNamespace

import pytest

from prime_eval.backends import BackendError, Request, SamplingConfig, get_backend
from prime_eval.engines.base import Decoding, Row

CHAT = [{"role": "user", "content": "hi"}]


class FakeSamplingParams:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


class FakeTokenizer:
    chat_template = "chatml-ish"

    def apply_chat_template(self, messages, add_generation_prompt, tokenize):
        assert add_generation_prompt and not tokenize
        return "<s>" + "".join(f"[{m['role']}]{m['content']}" for m in messages) + "[assistant]"

    def __call__(self, text, add_special_tokens=True):
        ids = [ord(ch) for ch in text]
        return {"input_ids": ([1] if add_special_tokens else []) + ids}

    def decode(self, ids, skip_special_tokens):
        assert skip_special_tokens
        return "".join(chr(i) for i in ids)


class FakeLLM:
    instances: list[FakeLLM] = []

    def __init__(self, model, **kwargs):
        self.model, self.kwargs, self.calls, self.log = model, kwargs, [], []
        self.model_config = SimpleNamespace(max_model_len=kwargs.get("max_model_len") or 8192, dtype="torch.float32")
        FakeLLM.instances.append(self)

    def get_tokenizer(self):
        return FakeTokenizer()

    def generate(self, prompts, sampling_params, use_tqdm=True):
        assert len(prompts) == len(sampling_params) and not use_tqdm
        self.calls.append((prompts, sampling_params))
        self.log.append(("generate", len(prompts)))
        out = []
        for params in sampling_params:
            # The response's characters as token ids, ended by an end-of-sequence token (2) when there is room.
            ids = [ord(c) for c in f"seed={params.seed} t={params.temperature}"] + [2]
            finish = "length" if params.max_tokens < len(ids) else "stop"
            output = SimpleNamespace(finish_reason=finish, token_ids=ids[: params.max_tokens], stop_reason=None)
            out.append(SimpleNamespace(outputs=[output]))
        return out


@pytest.fixture
def fake_vllm(monkeypatch):
    module = ModuleType("vllm")
    module.__version__ = "0.0.fake"
    module.LLM = FakeLLM
    module.SamplingParams = FakeSamplingParams
    monkeypatch.setitem(sys.modules, "vllm", module)
    FakeLLM.instances.clear()
    return module


def test_missing_vllm_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm now fails, as on a machine without it
    with pytest.raises(BackendError, match=r"pip install 'prime-suite\[vllm\]'"):
        get_backend("vllm", model="Qwen/Qwen2.5-0.5B")
    from prime_eval.backends.vllm_backend import VLLMBackend

    with pytest.raises(BackendError, match=r"needs the Python package 'vllm'.*prime-suite\[vllm\]"):
        VLLMBackend("Qwen/Qwen2.5-0.5B")


def test_engine_gets_the_settings_and_describe_reports_them(fake_vllm):
    backend = get_backend("vllm", model="m", tensor_parallel_size=2, max_model_len=4096, seed=3, dtype="bfloat16")
    llm = FakeLLM.instances[-1]
    assert llm.model == "m"
    assert llm.kwargs == {
        "revision": None,
        "tensor_parallel_size": 2,
        "dtype": "bfloat16",
        "gpu_memory_utilization": 0.9,
        "max_model_len": 4096,
        "seed": 3,
        "trust_remote_code": False,
    }
    info = backend.describe()
    assert info["vllm"] == "0.0.fake" and info["tensor_parallel_size"] == 2 and info["model"] == "m"
    assert info["engine"]["max_model_len"] == 4096 and info["engine"]["dtype"] == "float32"


def test_sampling_params_per_row(fake_vllm):
    engine = get_backend("vllm", model="m").engine
    params = engine.sampling_params(Row([1], 13, 1024), Decoding(0.6, 0.95, ("</answer>",)))
    assert isinstance(params, FakeSamplingParams)
    assert vars(params) == {
        "n": 1,
        "seed": 13,
        "temperature": 0.6,
        "top_p": 0.95,
        "max_tokens": 1024,
        "stop": ["</answer>"],
    }
    assert engine.sampling_params(Row([1], 0, 1), Decoding()).stop is None
    assert engine.sampling_params(Row([1], 0, 1), Decoding(logprobs=True)).logprobs == 0


def test_generate_one_params_per_request_and_sample(fake_vllm):
    backend = get_backend("vllm", model="m")
    out = {}
    requests = [Request("chat", CHAT, (1, 3)), Request("plain", "2+2=", (0,))]
    backend.generate(
        requests,
        SamplingConfig(temperature=1.0, seed=100, max_tokens=50),
        lambda r, c: out.__setitem__((r.key, c.sample), c),
    )
    prompts, params = FakeLLM.instances[-1].calls[0]
    assert [p.seed for p in params] == [101, 103, 100]
    # Chat prompts: the template rendered once, tokenized without extra special tokens; plain prompts with the
    # tokenizer's special tokens (BOS), as the HF backend encodes them.
    assert prompts[0] == {"prompt_token_ids": [ord(c) for c in "<s>[user]hi[assistant]"]}
    assert prompts[2] == {"prompt_token_ids": [1] + [ord(c) for c in "2+2="]}
    # The text is the tokens decoded, without the end-of-sequence token (counted among the tokens).
    assert out["chat", 3].text == "seed=103 t=1.0" and out["plain", 0].text == "seed=100 t=1.0"
    assert all(c.finish_reason == "stop" and c.tokens == len(c.text) + 1 for c in out.values())


def test_greedy_generates_once_per_prompt(fake_vllm):
    backend = get_backend("vllm", model="m")
    out = []
    backend.generate([Request("p", "x", (0, 1, 2))], SamplingConfig(max_tokens=50), lambda r, c: out.append(c))
    assert len(FakeLLM.instances[-1].calls[0][0]) == 1
    assert sorted(c.sample for c in out) == [0, 1, 2] and {c.finish_reason for c in out} == {"stop"}


def test_completions_are_reported_after_each_chunk(fake_vllm):
    backend = get_backend("vllm", model="m", chunk_size=2)
    llm = FakeLLM.instances[-1]
    backend.generate(
        [Request("a", "x", (0, 1, 2)), Request("b", "y", (0, 1))],
        SamplingConfig(temperature=0.5),
        lambda r, c: llm.log.append(("saved", r.key, c.sample)),
    )
    kinds = [entry[0] for entry in llm.log]
    assert kinds == ["generate", "saved", "saved", "generate", "saved", "saved", "generate", "saved"]


def test_prompts_near_the_context_get_less_room_and_full_ones_none(fake_vllm):
    backend = get_backend("vllm", model="m", max_model_len=20)
    assert backend.context_length() == 20
    out = {}
    requests = [
        Request("full", "0123456789" * 2, (0, 1)),
        Request("near", "0123456789ab", (0,)),
        Request("short", "abc", (0,)),
    ]
    backend.generate(requests, SamplingConfig(max_tokens=10), lambda r, c: out.__setitem__((r.key, c.sample), c))
    prompts, params = FakeLLM.instances[-1].calls[0]
    # 21 tokens (BOS + 20) fill the context: an empty truncated response for each sample, nothing sent to vLLM;
    # 13 tokens leave 7 of the 10 asked for; 4 leave all 10. Prompts are never cut.
    assert [p["prompt_token_ids"][1:] for p in prompts] == [[ord(c) for c in "0123456789ab"], [ord(c) for c in "abc"]]
    assert [p.max_tokens for p in params] == [7, 10]
    assert [(c.text, c.finish_reason, c.tokens) for k, c in out.items() if k[0] == "full"] == [("", "length", 0)] * 2


def test_a_requests_own_limit_replaces_the_calls(fake_vllm):
    backend = get_backend("vllm", model="m")
    requests = [Request("a", "x", (0,), max_tokens=5), Request("b", "y", (0,))]
    backend.generate(requests, SamplingConfig(max_tokens=50), lambda r, c: None)
    assert [p.max_tokens for p in FakeLLM.instances[-1].calls[0][1]] == [5, 50]
