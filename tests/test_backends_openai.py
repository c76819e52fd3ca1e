"""OpenAIBackend against a real HTTP server (tests/openai_test_server.py) that runs HFBackend on the tiny model."""

from __future__ import annotations

import socket
import time

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from prime_eval.backends import BackendError, Request, SamplingConfig, get_backend  # noqa: E402
from prime_eval.backends.hf import HFBackend  # noqa: E402
from prime_eval.backends.openai_server import OpenAIBackend, _chat_text  # noqa: E402
from tests.openai_test_server import serve  # noqa: E402
from tests.tiny_model import one_torch_thread  # noqa: E402

CHAT = [{"role": "user", "content": "Solve $2x + 3 = 11$."}]
PLAIN = "The sum of the first"


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def server(tiny_model):
    with serve(tiny_model) as s:
        yield s


@pytest.fixture
def client(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server.requests_seen.clear()
    server.failures.clear()
    return OpenAIBackend("tiny", base_url=server.base_url, concurrency=4, backoff_s=0.001)


@pytest.fixture(scope="module")
def local(tiny_model):
    return HFBackend(str(tiny_model))


def run(backend, requests, **sampling):
    out = {}
    backend.generate(requests, SamplingConfig(**sampling), lambda r, c: out.__setitem__((r.key, c.sample), c))
    assert set(out) == {(r.key, j) for r in requests for j in r.samples}
    return out


def texts(out):
    return {k: c.text for k, c in out.items()}


def test_greedy_over_http_matches_the_local_backend(client, local, server):
    requests = [Request("chat", CHAT, (0, 1)), Request("plain", PLAIN, (0,))]
    remote = run(client, requests, max_tokens=20)
    assert texts(remote) == texts(run(local, requests, max_tokens=20))
    assert all(c.finish_reason == "length" and c.tokens == 20 for c in remote.values())
    # Greedy: one HTTP request per prompt, chat prompts to /chat/completions, plain ones to /completions.
    assert sorted("messages" in body for body in server.requests_seen) == [False, True]


def test_samples_are_seeded_per_request_and_resume_asks_only_for_missing(client, local, server):
    full = [Request("chat", CHAT, (0, 1, 2)), Request("plain", PLAIN, (0, 1))]
    remote = run(client, full, temperature=1.0, top_p=0.9, max_tokens=12, seed=5)
    # The server draws sample 0 of seed 5 + j; the local backend draws sample j of seed 5: the same generator seed.
    assert texts(remote) == texts(run(local, full, temperature=1.0, top_p=0.9, max_tokens=12, seed=5))
    assert all(body["n"] == 1 for body in server.requests_seen)
    server.requests_seen.clear()
    resumed = run(client, [Request("chat", CHAT, (2,))], temperature=1.0, top_p=0.9, max_tokens=12, seed=5)
    assert resumed["chat", 2].text == remote["chat", 2].text
    assert [body["seed"] for body in server.requests_seen] == [7]


def test_stop_and_max_tokens_pass_through(client, local):
    base = run(local, [Request("p", PLAIN, (0,))], max_tokens=30)["p", 0].text
    stop = base[6:9]
    got = run(client, [Request("p", PLAIN, (0,))], max_tokens=30, stop=(stop,))["p", 0]
    assert got.text == base[: base.index(stop)] and got.finish_reason == "stop"


def test_retries_after_503s(client, server):
    server.fail_next(3)
    out = run(client, [Request("p", PLAIN, (0, 1))], temperature=1.0, max_tokens=4)
    assert all(c.finish_reason == "length" for c in out.values())
    assert len(server.requests_seen) == 2 + 3


def test_gives_up_after_max_retries_with_a_clear_error(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    client = OpenAIBackend("tiny", base_url=server.base_url, max_retries=2, backoff_s=0.001)
    server.fail_next(1000)
    try:
        with pytest.raises(BackendError, match=r"still failing after 2 retries: HTTP 503"):
            run(client, [Request("p", PLAIN, (0,))], max_tokens=4)
    finally:
        server.failures.clear()


def test_a_rejected_request_is_an_error_completion_not_a_crash(client, server):
    server.fail_next(1, status=400)
    out = run(client, [Request("p", PLAIN, (0,))], max_tokens=4)
    assert out["p", 0].finish_reason == "error" and "HTTP 400" in out["p", 0].error


def test_callback_failure_stops_the_run(client):
    seen = []

    def explode(request, completion):
        seen.append(completion)
        raise RuntimeError("disk full")

    requests = [Request(f"r{i}", PLAIN, (0, 1, 2)) for i in range(6)]
    with pytest.raises(RuntimeError, match="disk full"):
        client.generate(requests, SamplingConfig(temperature=1.0, max_tokens=4), explode)
    time.sleep(0.5)  # requests still in flight finish without reaching the callback
    assert len(seen) < 18


def test_nothing_listening_is_a_clear_error():
    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BackendError, match=rf"127.0.0.1:{port}/v1.*vllm serve my-model"):
        OpenAIBackend("my-model", base_url=f"http://127.0.0.1:{port}/v1")


def test_unknown_model_lists_what_the_server_serves(server):
    with pytest.raises(BackendError, match="does not serve model 'tinyy'; it serves: 'tiny'"):
        get_backend("openai", model="tinyy", base_url=server.base_url)


def test_api_key_from_env_and_describe(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    server.auth_seen.clear()
    client = get_backend("openai", model="tiny", base_url=server.base_url + "/")
    assert server.auth_seen == ["Bearer sk-test"]
    info = client.describe()
    assert info["base_url"] == server.base_url and info["server_model"]["id"] == "tiny"
    assert "sk-test" not in str(info)


def test_reasoning_split_by_the_server_is_put_back():
    assert _chat_text({"content": "42", "reasoning_content": "think hard"}) == "<think>think hard</think>42"
    assert _chat_text({"content": None}) == ""
