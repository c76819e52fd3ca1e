"""The backend interface, one shared backend per process and kind, and the module-level ``run``/``run_many``."""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from prime_common.registry import Registry

from .execution import Execution
from .limits import Limits


class Backend(Protocol):
    name: str
    workers: int
    isolation: str  # the level in force: "namespaces", "bwrap", "rlimits" or "docker"

    def run(
        self,
        program: str,
        *,
        stdin: str | bytes | None = None,
        files: Mapping[str, str | bytes] | None = None,
        limits: Limits | None = None,
        sealed: str | bytes | None = None,
    ) -> Execution: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Job:
    """One run of a batch."""

    program: str
    stdin: str | bytes | None = None
    files: Mapping[str, str | bytes] = field(default_factory=dict)
    limits: Limits | None = None
    sealed: str | bytes | None = None


# "backend" in CodeConfig and the API; these run programs, prime_eval.backends generate text.
SANDBOX_BACKENDS = Registry(
    "sandbox backend", {"local": "sandbox.local:LocalBackend", "docker": "sandbox.docker_backend:DockerBackend"}
)
_backends: dict[tuple[str, int], Backend] = {}
_lock = threading.Lock()


def get_backend(name: str = "local", **options: Any) -> Backend:
    """The shared backend ``name`` of this process (created on first use), or a new one if options are given.

    Keyed by process id: a worker forked from a process that already had boxes must not share their pipes.
    """
    if options:
        return SANDBOX_BACKENDS.create(name, **options)
    key = (name, os.getpid())
    with _lock:
        backend = _backends.get(key)
        if backend is None:
            backend = _backends[key] = SANDBOX_BACKENDS.create(name)
        return backend


@atexit.register
def _close_all() -> None:
    for (_, pid), backend in list(_backends.items()):
        if pid == os.getpid():
            backend.close()


def run(
    program: str,
    *,
    stdin: str | bytes | None = None,
    files: Mapping[str, str | bytes] | None = None,
    limits: Limits | None = None,
    sealed: str | bytes | None = None,
    backend: str | Backend = "local",
) -> Execution:
    """Run ``program`` (Python source) in a fresh isolated process and return what happened. Never raises for
    anything the program does; a failure of the sandbox itself comes back as ``sandbox_error``.

    ``stdin``, ``files`` and ``sealed`` never pass through the memory of the box's runner, which later runs are
    forked from, so no later run can find them by scanning its own memory; ``program`` does (it is compiled once
    per box when it comes back). ``sealed`` (str as UTF-8) is open on the program's fd 3 at its start (see
    ``_box.py``): a program that must keep it from processes it starts forks them before reading it."""
    impl = get_backend(backend) if isinstance(backend, str) else backend
    return impl.run(program, stdin=stdin, files=files, limits=limits, sealed=sealed)


def run_many(jobs: Sequence[Job | str], *, backend: str | Backend = "local") -> list[Execution]:
    """Run every job, as many at once as the backend has workers (one per core by default), results in order."""
    impl = get_backend(backend) if isinstance(backend, str) else backend
    todo = [Job(job) if isinstance(job, str) else job for job in jobs]
    if not todo:
        return []
    with ThreadPoolExecutor(max_workers=min(impl.workers, len(todo))) as pool:
        return list(pool.map(lambda j: _run_job(impl, j), todo))


def _run_job(impl: Backend, job: Job) -> Execution:
    return impl.run(job.program, stdin=job.stdin, files=job.files, limits=job.limits, sealed=job.sealed)
