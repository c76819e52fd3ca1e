"""Any OpenAI-compatible server (``vllm serve``, SGLang, ...), over the standard library's HTTP client.

Every sample is its own request with ``n=1`` and ``seed = sampling.seed + j``, so a resumed run asks for exactly the
missing indices and gets the texts a full run would have (on servers that honour per-request seeds, as vLLM does).
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

from prime_eval.backends.base import BackendError, Completion, OnCompletion, Request, SamplingConfig, sample_groups

_RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class _Retryable(Exception):
    """A failure worth retrying (overload, server restarting, dropped connection)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class _Rejected(Exception):
    """The server refused this one request (e.g. prompt longer than the context): retrying will not help."""


class OpenAIBackend:
    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str = "http://localhost:8000/v1",
        api_key: str | None = None,
        concurrency: int = 32,
        max_retries: int = 5,
        timeout_s: float = 600,
        backoff_s: float = 1.0,
    ):
        if concurrency < 1 or max_retries < 0:
            raise BackendError("need concurrency >= 1 and max_retries >= 0")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s  # first retry delay; doubles each time, capped at 60 s, with full jitter
        self.server_model = self._check_server()

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "base_url": self.base_url,
            "model": self.model,
            "server_model": self.server_model,  # the /models entry: id, root (weights path), max_model_len...
            "concurrency": self.concurrency,
        }

    def generate(self, requests: Sequence[Request], sampling: SamplingConfig, on_completion: OnCompletion) -> None:
        jobs = [(request, group) for request in requests for group in sample_groups(request, sampling)]
        if not jobs:
            return
        lock = threading.Lock()  # the runner's callback is never entered by two workers at once
        cancelled = threading.Event()  # once generate() has raised, late completions are dropped, not reported

        def run(request: Request, samples: tuple[int, ...]) -> None:
            if cancelled.is_set():
                return
            first = self._sample(request, samples[0], sampling)
            with lock:
                for j in samples:
                    if not cancelled.is_set():
                        on_completion(request, dataclasses.replace(first, sample=j))

        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(jobs)), thread_name_prefix="prime-openai")
        try:
            done, _ = wait([pool.submit(run, *job) for job in jobs], return_when=FIRST_EXCEPTION)
            for future in done:
                if future.exception() is not None:
                    raise future.exception()
        except BaseException:
            # Server gone, callback failed or Ctrl-C: stop at once without waiting for requests in flight. What
            # finished is already saved; a resumed run asks for the rest.
            cancelled.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()

    def close(self) -> None:
        pass

    # -- one sample -------------------------------------------------------------------------------------------------

    def _sample(self, request: Request, j: int, sampling: SamplingConfig) -> Completion:
        body: dict[str, Any] = {
            "model": self.model,
            "n": 1,
            "seed": sampling.seed + j,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": request.max_tokens or sampling.max_tokens,
        }
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        chat = not isinstance(request.prompt, str)
        body["messages" if chat else "prompt"] = request.prompt
        t0 = time.perf_counter()
        try:
            reply = self._post("/chat/completions" if chat else "/completions", body)
        except _Rejected as exc:
            return Completion(j, "", "error", seconds=time.perf_counter() - t0, error=str(exc))
        seconds = time.perf_counter() - t0
        try:
            choice = reply["choices"][0]
            text = _chat_text(choice["message"]) if chat else choice["text"]
        except (KeyError, IndexError, TypeError) as exc:
            return Completion(j, "", "error", seconds=seconds, error=f"unexpected reply {str(reply)[:300]}: {exc!r}")
        tokens = (reply.get("usage") or {}).get("completion_tokens")
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        return Completion(j, text, finish, tokens, seconds)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(self.max_retries + 1):
            try:
                return self._call("POST", path, body)
            except _Retryable as exc:
                if attempt == self.max_retries:
                    raise BackendError(
                        f"{self.base_url}{path} still failing after {self.max_retries} retries: {exc}"
                    ) from None
                delay = min(60.0, self.backoff_s * 2**attempt)
                # Full jitter: many workers that failed together do not retry together.
                time.sleep(exc.retry_after if exc.retry_after is not None else random.uniform(0, delay))
        raise AssertionError("unreachable")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout_s) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            message = f"HTTP {exc.code} from {method} {path}: {detail}"
            if exc.code in _RETRY_STATUS:
                retry_after = exc.headers.get("Retry-After")
                raise _Retryable(message, _seconds(retry_after)) from None
            if exc.code in (401, 403):
                raise BackendError(f"{message} (set OPENAI_API_KEY or pass api_key)") from None
            if exc.code == 404:
                raise BackendError(f"{message} (is {self.base_url} an OpenAI-compatible /v1 URL?)") from None
            raise _Rejected(message) from None
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as exc:
            raise _Retryable(f"{method} {path}: {getattr(exc, 'reason', exc)}") from None
        except json.JSONDecodeError as exc:
            raise _Retryable(f"{method} {path}: reply is not JSON ({exc})") from None

    def _check_server(self) -> dict[str, Any]:
        """One GET /models at start: a down server or a wrong model name fails now, not after the first batch."""
        try:
            listing = self._call("GET", "/models", timeout=min(30.0, self.timeout_s))
        except _Retryable as exc:
            raise BackendError(
                f"no OpenAI-compatible server answers at {self.base_url} ({exc}). Start one, e.g. "
                f"`vllm serve {self.model} --port 8000` (then base_url=http://localhost:8000/v1), or pass the "
                "base_url of a running server"
            ) from None
        except _Rejected as exc:
            raise BackendError(f"{self.base_url}/models failed: {exc}") from None
        served = [m for m in listing.get("data", []) if isinstance(m, dict)]
        for entry in served:
            if entry.get("id") == self.model:
                return entry
        ids = ", ".join(repr(m.get("id")) for m in served) or "none"
        raise BackendError(
            f"the server at {self.base_url} does not serve model {self.model!r}; it serves: {ids} "
            "(vLLM serves the path or Hub id given to `vllm serve`, or --served-model-name)"
        )


def _chat_text(message: dict[str, Any]) -> str:
    # Servers started with a reasoning parser split the trace off the answer; put it back in <think> tags so the
    # saved response is the model's whole output (the verifier strips the reasoning itself).
    content = message.get("content") or ""
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    return f"<think>{reasoning}</think>{content}" if reasoning else content


def _seconds(retry_after: str | None) -> float | None:
    try:
        return min(60.0, max(0.0, float(retry_after))) if retry_after else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
