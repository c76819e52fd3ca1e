"""The docker backend: the same in-box runner, one throw-away container per run (``sandbox/Dockerfile``).

The container has no network, a read-only root, a tmpfs work dir, pids/memory/CPU caps, no capabilities and
no-new-privileges; the runner inside handles one request (``--once``) and the container is removed. Needs the
Docker SDK (``pip install docker``, imported lazily) and an engine; ``container_spec`` needs neither.
"""

from __future__ import annotations

import json
import os
import struct
import threading
from collections.abc import Mapping
from typing import Any

from .execution import Execution, classify
from .limits import Limits
from .local import REPORT_GRACE_S, _latin1

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
    }


class DockerBackend:
    name = "docker"

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
    ) -> Execution:
        limits = limits or Limits()
        req = {
            "program": program,
            "stdin": _latin1(stdin) if stdin is not None else None,
            "files": {name: _latin1(data) for name, data in (files or {}).items()},
            "limits": limits.to_dict(),
        }
        container = None
        try:
            container = self.client.containers.create(**container_spec(limits, self.image))
            sock = container.attach_socket(params={"stdin": 1, "stream": 1})
            container.start()
            body = json.dumps(req).encode()
            sock._sock.sendall(struct.pack(">I", len(body)) + body)
            sock._sock.close()
            status = container.wait(timeout=limits.wall_time_s + REPORT_GRACE_S + 10)
            raw = _frames(container.logs(stdout=True, stderr=False))
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


def _frames(data: bytes) -> dict[str, Any] | None:
    """The runner's report: the second frame it writes (the first says it is ready)."""
    frames = []
    while len(data) >= 4:
        size = struct.unpack(">I", data[:4])[0]
        frames.append(json.loads(data[4 : 4 + size]))
        data = data[4 + size :]
    return frames[1] if len(frames) > 1 else None
