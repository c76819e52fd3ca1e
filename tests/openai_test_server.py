"""A small OpenAI-compatible server for tests: the real HTTP protocol in front of ``HFBackend`` on a tiny model.

Serves ``GET /v1/models``, ``POST /v1/chat/completions`` and ``POST /v1/completions`` (``n``, ``seed``,
``temperature``, ``top_p``, ``max_tokens``, ``stop``) from a ``ThreadingHTTPServer`` on a background thread.
``fail_next(k, status)`` makes the next k generation requests fail, to test retries.

    with serve(model_dir) as server:
        OpenAIBackend("tiny", base_url=server.base_url)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prime_eval.backends.base import Completion, Request, SamplingConfig
from prime_eval.backends.hf import HFBackend


class TestServer:
    __test__ = False  # not a pytest test class

    def __init__(self, model_dir: str | Path, served_name: str = "tiny", batch_size: int = 8):
        self.backend = HFBackend(str(model_dir), batch_size=batch_size)
        self.served_name = served_name
        self.lock = threading.Lock()  # one generate() at a time on the model
        self.failures: list[int] = []  # statuses to answer the next generation requests with
        self.requests_seen: list[dict[str, Any]] = []  # bodies of the generation requests, failed ones included
        self.auth_seen: list[str | None] = []  # Authorization header of every request
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def fail_next(self, k: int, status: int = 503) -> None:
        with self.lock:
            self.failures.extend([status] * k)

    def start(self) -> TestServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def complete(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests_seen.append(body)
            if self.failures:
                status = self.failures.pop(0)
                return status, {"error": {"message": "injected failure", "code": status}}
        chat = path.endswith("/chat/completions")
        prompt = body.get("messages") if chat else body.get("prompt")
        if isinstance(prompt, list) and not chat:
            prompt = prompt[0]  # /completions allows a list of prompts; tests send one
        if body.get("model") != self.served_name:
            return 404, {"error": {"message": f"model {body.get('model')!r} does not exist"}}
        stop = body.get("stop") or ()
        sampling = SamplingConfig(
            n=int(body.get("n", 1)),
            temperature=float(body.get("temperature", 1.0)),
            top_p=float(body.get("top_p", 1.0)),
            max_tokens=int(body.get("max_tokens", 16)),
            seed=int(body.get("seed") or 0),
            stop=(stop,) if isinstance(stop, str) else tuple(stop),
        )
        out: list[Completion] = []
        with self.lock:
            self.backend.generate(
                [Request("http", prompt, tuple(range(sampling.n)))], sampling, lambda _r, c: out.append(c)
            )
        out.sort(key=lambda c: c.sample)
        choices = []
        for c in out:
            content = {"message": {"role": "assistant", "content": c.text}} if chat else {"text": c.text}
            choices.append({"index": c.sample, "finish_reason": c.finish_reason, **content})
        usage = {"completion_tokens": sum(c.tokens or 0 for c in out)}
        kind = "chat.completion" if chat else "text_completion"
        return 200, {"id": "cmpl-test", "object": kind, "model": self.served_name, "choices": choices, "usage": usage}


def _handler(server: TestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # keep pytest output clean
            pass

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            server.auth_seen.append(self.headers.get("Authorization"))
            if self.path.rstrip("/") != "/v1/models":
                return self._send(404, {"error": {"message": f"no route {self.path}"}})
            model = {"id": server.served_name, "object": "model", "owned_by": "prime-tests", "max_model_len": 512}
            self._send(200, {"object": "list", "data": [model]})

        def do_POST(self):
            server.auth_seen.append(self.headers.get("Authorization"))
            if self.path not in ("/v1/chat/completions", "/v1/completions"):
                return self._send(404, {"error": {"message": f"no route {self.path}"}})
            length = int(self.headers.get("Content-Length", 0))
            try:
                body = json.loads(self.rfile.read(length))
            except json.JSONDecodeError as exc:
                return self._send(400, {"error": {"message": f"bad JSON: {exc}"}})
            status, payload = server.complete(self.path, body)
            self._send(status, payload)

    return Handler


@contextmanager
def serve(model_dir: str | Path, **kwargs: Any) -> Iterator[TestServer]:
    server = TestServer(model_dir, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()
