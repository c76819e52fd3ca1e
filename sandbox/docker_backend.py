"""The docker backend: the same in-box runner, one throw-away container per run (``sandbox/Dockerfile``).

The container has no network, a read-only root, a tmpfs work dir, pids/memory/CPU caps, no capabilities and
no-new-privileges; the runner inside handles one request (``--once``) and the container is removed. Needs the
Docker SDK (``pip install docker``, imported lazily) and an engine; ``container_spec`` needs neither.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Mapping
from typing import Any

from . import seccomp
from .execution import Execution, classify
from .limits import Limits
from .local import REPORT_GRACE_S
from .report import read_report
from .request import encode_request

DEFAULT_IMAGE = "prime-sandbox:latest"


def container_spec(limits: Limits, image: str = DEFAULT_IMAGE) -> dict[str, Any]:
    """Keyword arguments for ``docker.containers.create``: every limit of ``limits``, enforced by the engine."""
    memory = f"{limits.memory_mb + 64}m"  # the runner's own share, as in the local backend's cgroup
    cpu = max(1, int(limits.cpu_time_s + 0.999))
    return {
        "image": image,
        "network_mode": "none",
        "network_disabled": True,
        "read_only": True,
        "tmpfs": {"/work": f"rw,nosuid,nodev,size={limits.disk_mb}m,uid=10001,mode=0700", "/tmp": "rw,size=16m"},
        "working_dir": "/work",
        "user": "10001:10001",
        "pids_limit": limits.max_processes + 4,
        "mem_limit": memory,
        "memswap_limit": memory,
        "nano_cpus": 1_000_000_000,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "ulimits": [
            {"Name": "cpu", "Soft": cpu, "Hard": cpu + 1},
            {"Name": "fsize", "Soft": limits.max_file_bytes, "Hard": limits.max_file_bytes},
            {"Name": "nofile", "Soft": limits.max_open_files, "Hard": limits.max_open_files},
        ],
        "environment": {"LC_ALL": "C.UTF-8"},
        "stdin_open": True,
        "labels": {"prime.sandbox": "1"},
        # The box's own filter, stacked on the engine's default profile (which allows io_uring, for one).
        "command": ["--seccomp", seccomp.program_filter().hex()],
    }


class DockerBackend:
    name = "docker"
    isolation = "docker"

    def __init__(self, workers: int | None = None, *, image: str = DEFAULT_IMAGE, client: Any = None):
        self.workers = workers or os.cpu_count() or 1
        self.image = image
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import docker

                self._client = docker.from_env()
            return self._client

    def run(
        self,
        program: str,
        *,
        stdin: str | bytes | None = None,
        files: Mapping[str, str | bytes] | None = None,
        limits: Limits | None = None,
        sealed: str | bytes | None = None,
    ) -> Execution:
        limits = limits or Limits()
        req = encode_request(program, limits=limits, stdin=stdin, files=files, sealed=sealed)
        container = None
        try:
            container = self.client.containers.create(**container_spec(limits, self.image))
            # The report is read from the attach stream, not from container.logs(): the engine's log driver stores
            # text and replaces the frames' binary length bytes that are not valid UTF-8.
            sock = container.attach_socket(params={"stdin": 1, "stdout": 1, "stream": 1})
            container.start()
            raw_sock = sock._sock
            raw_sock.sendall(req)
            raw_sock.shutdown(socket.SHUT_WR)  # end of the runner's stdin: it serves one request, then exits
            stream = _read_until_eof(raw_sock, time.monotonic() + limits.wall_time_s + REPORT_GRACE_S + 10)
            sock.close()
            status = container.wait(timeout=REPORT_GRACE_S + 10)
            raw = _frames(_demultiplex(stream))
            if raw is None:
                return Execution.sandbox_error(f"container exited with {status} and no report", "docker")
            oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
            return classify(raw, limits, oom_killed=oom, isolation="docker")
        except Exception as exc:  # engine errors and timeouts: the sandbox failed, not the program
            return Execution.sandbox_error(f"{type(exc).__name__}: {exc}", "docker")
        finally:
            if container is not None:
                try:
                    container.remove(force=True)
                except Exception:
                    pass

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _read_until_eof(sock: socket.socket, deadline: float) -> bytes:
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the container did not finish in time")
        sock.settimeout(left)
        chunk = sock.recv(1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _demultiplex(data: bytes) -> bytes:
    """stdout of an attach stream without a tty: frames of (stream byte, 3 zero bytes, 4-byte size, payload)."""
    out, pos = [], 0
    while pos + 8 <= len(data):
        kind, size = data[pos], struct.unpack(">I", data[pos + 4 : pos + 8])[0]
        if kind == 1:
            out.append(data[pos + 8 : pos + 8 + size])
        pos += 8 + size
    return b"".join(out)


def _frames(data: bytes) -> dict[str, Any] | None:
    """The runner's report: the second frame it writes (the first says it is ready)."""
    view = memoryview(data)

    def read_exact(n: int) -> bytes | None:
        nonlocal view
        if len(view) < n:
            return None
        chunk, view = bytes(view[:n]), view[n:]
        return chunk

    frames = []
    while len(frames) < 2 and (frame := read_report(read_exact)) is not None:
        frames.append(frame)
    return frames[1] if len(frames) > 1 else None
