"""Run many checks over all cores, each bounded by a wall-clock limit and a memory cap.

Signal-based timeouts (what Math-Verify and the Qwen harness use) only work in the main thread and never fire
while sympy is stuck inside one C-level operation, so a check here is bounded by *killing the worker process*
that runs it. A killed or crashed worker is replaced and the batch goes on; the check it was running gets a
``timeout`` or ``error`` verdict.

A verifier whose checks already run in processes of their own (``CodeVerifier``: each in a sandbox run, bounded and
killed by the sandbox) says so with ``checks_run_elsewhere = True``: its batch runs on threads of the calling
process instead, one hop fewer per check, and the pool is kept for checks that compute here (math).

Workers are started through a fork server preloaded with the verifier modules: starting a replacement costs a
fork, not an interpreter start plus a sympy import, and a parent holding threads or a CUDA context is never
forked itself.
"""

from __future__ import annotations

import atexit
import hashlib
import math
import multiprocessing as mp
import os
import pickle
import resource
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from .base import Status, Verdict, Verifier

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MEMORY_MB = 4096
CHUNK_TARGET_S = 0.01
# Below this many items the bar is noise; a training step's few hundred checks stay quiet.
PROGRESS_MIN_ITEMS = 1000
# Imported once in the fork server, so that every worker (and every replacement of a killed one) starts with
# them: sympy and the LaTeX parser take about a second to import.
_PRELOAD = ["prime_eval.verify.math", "latex2sympy2_extended.latex2sympy2"]


@dataclass(frozen=True)
class PoolConfig:
    workers: int
    memory_mb: int = DEFAULT_MEMORY_MB  # address-space cap per worker; 0 means no cap

    def __post_init__(self) -> None:
        if not _is_int(self.workers) or self.workers < 1:
            raise ValueError(f"workers must be an integer of at least 1, got {self.workers!r}")
        if not _is_int(self.memory_mb) or self.memory_mb < 0:
            raise ValueError(f"memory_mb must be an integer of at least 0 (0: no cap), got {self.memory_mb!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_timeout(timeout_s: Any) -> None:
    # NaN passes "timeout_s <= 0" and then never expires: a hung check would hold its worker forever.
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s < math.inf:
        raise ValueError(f"timeout_s must be a positive finite number of seconds, got {timeout_s!r}")


def _worker_main(conn: Connection, memory_mb: int) -> None:
    """Loop of one worker process: receive verifiers and chunks of items, send back one verdict per item."""
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    verifiers: dict[str, Verifier] = {}
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        kind, key, payload = msg
        if kind == "verifier":
            verifiers[key] = pickle.loads(payload)
            continue
        verifier = verifiers[key]
        for idx, response, reference, meta in payload:
            conn.send((idx, _run_one(verifier, response, reference, meta)))


def _run_one(verifier: Verifier, response: str, reference: Any, meta: Mapping[str, Any]) -> Verdict:
    try:
        return verifier.verify(response, reference, **meta)
    except MemoryError:
        return Verdict.failed(Status.ERROR, "memory limit exceeded")
    except RecursionError:
        return Verdict.failed(Status.ERROR, "recursion limit exceeded")
    except Exception as exc:  # a verifier bug must cost one verdict, not the batch
        return Verdict.failed(Status.ERROR, f"{type(exc).__name__}: {exc}")


@contextmanager
def _main_module_hidden():
    """Start a worker without re-importing the caller's ``__main__``.

    multiprocessing re-runs the parent's main script in every new process; that breaks for code read from stdin
    or a notebook and re-executes unguarded scripts. Verifiers live in importable modules, so workers never
    need it.
    """
    main = sys.modules.get("__main__")
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if main is not None and k in main.__dict__}
    with _start_lock:
        for k in saved:
            if k == "__spec__":
                main.__dict__[k] = None
            else:
                del main.__dict__[k]
        try:
            yield
        finally:
            main.__dict__.update(saved)


_start_lock = threading.Lock()


class _Worker:
    def __init__(self, ctx: Any, memory_mb: int):
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child, memory_mb), daemon=True)
        with _main_module_hidden():
            self.proc.start()
        child.close()
        self.known: set[str] = set()
        self.pending: deque[int] = deque()  # indices sent, not yet answered; the first is running
        self.since = 0.0  # when the running item started (last answer or dispatch)

    def send_chunk(self, key: str, blob: bytes, items: list[tuple]) -> None:
        self.pending.extend(item[0] for item in items)
        self.since = time.monotonic()
        if key not in self.known:
            self.conn.send(("verifier", key, blob))
            self.known.add(key)
        self.conn.send(("items", key, items))

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()

    def describe_death(self) -> str:
        self.proc.join(timeout=1)
        code = self.proc.exitcode
        if code is not None and code < 0:
            return f"worker killed by signal {-code} (likely the memory cap)"
        return f"worker exited with code {code}"


class VerifierPool:
    """A set of worker processes. Thread-safe: concurrent ``map`` calls take turns."""

    def __init__(self, config: PoolConfig):
        self.config = config
        self._ctx = mp.get_context("forkserver")
        self._ctx.set_forkserver_preload(_PRELOAD)
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()

    def _spawn(self) -> _Worker:
        return _Worker(self._ctx, self.config.memory_mb)

    def close(self) -> None:
        with self._lock:
            for w in self._workers:
                try:
                    w.conn.send(None)
                except OSError:
                    pass
                w.kill()
            self._workers = []

    def map(
        self,
        verifier: Verifier,
        items: Sequence[tuple[str, Any, Mapping[str, Any]]],
        *,
        timeout_s: float,
        progress: bool,
    ) -> list[Verdict]:
        _check_timeout(timeout_s)
        n = len(items)
        results: list[Verdict | None] = [None] * n
        if n == 0:
            return []
        blob = pickle.dumps(verifier)
        key = hashlib.sha1(blob).hexdigest()
        # Small chunks keep a killed worker's collateral (requeued items) small while amortising IPC; once item
        # times are known, a chunk holds about CHUNK_TARGET_S of work, so slow items (code runs) go one by one and
        # no worker idles at the end of a batch while another finishes a long chunk.
        chunk = max(1, min(32, n // (self.config.workers * 8) or 1))
        item_s: list[float] = []  # running mean of one item's time, as a one-element cell
        queue: deque[int] = deque(range(n))
        bar = _progress_bar(n) if progress else None
        with self._lock:
            while len(self._workers) < self.config.workers:
                self._workers.append(self._spawn())
            busy: dict[Connection, _Worker] = {}

            def dispatch(worker: _Worker) -> None:
                size = chunk if not item_s else max(1, min(chunk, int(CHUNK_TARGET_S / max(item_s[0], 1e-6))))
                take = [queue.popleft() for _ in range(min(size, len(queue)))]
                if take:
                    busy[worker.conn] = worker
                    try:
                        worker.send_chunk(key, blob, [(i, *items[i]) for i in take])
                    except OSError:  # died since its last answer: its first item pays, like any crash
                        replace(worker, Verdict.failed(Status.ERROR, worker.describe_death()))

            def replace(worker: _Worker, verdict: Verdict) -> None:
                failed = worker.pending.popleft()
                results[failed] = verdict
                if bar:
                    bar.update(1)
                queue.extendleft(reversed(worker.pending))
                busy.pop(worker.conn, None)
                worker.kill()
                fresh = self._spawn()
                self._workers[self._workers.index(worker)] = fresh
                dispatch(fresh)

            for w in self._workers:
                dispatch(w)
            while busy:
                now = time.monotonic()
                next_deadline = min(w.since for w in busy.values()) + timeout_s
                for conn in wait(list(busy), timeout=max(0.0, next_deadline - now)):
                    worker = busy[conn]
                    try:
                        idx, verdict = conn.recv()
                    except (EOFError, OSError):
                        replace(worker, Verdict.failed(Status.ERROR, worker.describe_death()))
                        continue
                    worker.pending.popleft()
                    finished = time.monotonic()
                    took = finished - worker.since
                    item_s[:] = [took if not item_s else 0.8 * item_s[0] + 0.2 * took]
                    worker.since = finished
                    results[idx] = verdict
                    if bar:
                        bar.update(1)
                    if not worker.pending:
                        del busy[conn]
                        dispatch(worker)
                now = time.monotonic()
                for worker in [w for w in busy.values() if now - w.since > timeout_s]:
                    replace(worker, Verdict.failed(Status.TIMEOUT, f"check exceeded {timeout_s:g} s and was killed"))
        if bar:
            bar.close()
        return results  # type: ignore[return-value]


def _progress_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="verifying", unit="check", dynamic_ncols=True)


_pools: dict[PoolConfig, VerifierPool] = {}
_pools_lock = threading.Lock()


def get_pool(workers: int | None = None, memory_mb: int = DEFAULT_MEMORY_MB) -> VerifierPool:
    """The shared pool for these settings, started on first use and kept warm for later batches."""
    config = PoolConfig(workers=(os.cpu_count() or 1) if workers is None else workers, memory_mb=memory_mb)
    with _pools_lock:
        pool = _pools.get(config)
        if pool is None:
            pool = _pools[config] = VerifierPool(config)
        return pool


@atexit.register
def _close_pools() -> None:
    for pool in list(_pools.values()):
        pool.close()


def verify_batch(
    verifier: Verifier,
    responses: Sequence[str],
    references: Sequence[Any],
    metas: Sequence[Mapping[str, Any]] | None = None,
    *,
    workers: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_mb: int = DEFAULT_MEMORY_MB,
    progress: bool | None = None,
) -> list[Verdict]:
    """Verify ``responses[i]`` against ``references[i]`` for every i, in order, over ``workers`` processes.

    Each check is limited to ``timeout_s`` seconds of wall-clock time and ``memory_mb`` of address space (0: no
    cap); a check that exceeds either gets a ``timeout``/``error`` verdict and its worker is replaced. A verifier
    with ``checks_run_elsewhere`` runs on ``workers`` threads here instead, bounded by its own limits (a code check
    by its sandbox run's), not by these two. Arguments out
    of range (NaN or a non-positive timeout, ``workers`` below 1) raise ``ValueError``. ``progress=None`` shows a
    bar for batches of at least 1000 items. Safe to call from any thread.
    """
    if len(responses) != len(references):
        raise ValueError(f"{len(responses)} responses but {len(references)} references")
    if metas is not None and len(metas) != len(responses):
        raise ValueError(f"{len(responses)} responses but {len(metas)} metas")
    _check_timeout(timeout_s)
    items = [
        (r, ref, (metas[i] if metas is not None else {})) for i, (r, ref) in enumerate(zip(responses, references))
    ]
    show = len(items) >= PROGRESS_MIN_ITEMS if progress is None else progress
    if getattr(verifier, "checks_run_elsewhere", False):
        return _map_in_threads(verifier, items, workers or os.cpu_count() or 1, show)
    return get_pool(workers, memory_mb).map(verifier, items, timeout_s=timeout_s, progress=show)


def _map_in_threads(
    verifier: Verifier, items: Sequence[tuple[str, Any, Mapping[str, Any]]], workers: int, progress: bool
) -> list[Verdict]:
    """Checks that run elsewhere, ``workers`` at a time from this process: its threads mostly wait on the check's
    process, so the GIL is no bottleneck, and the pool's kill is not needed (the check's own process is bounded)."""
    from concurrent.futures import ThreadPoolExecutor

    bar = _progress_bar(len(items)) if progress and items else None

    def one(item: tuple[str, Any, Mapping[str, Any]]) -> Verdict:
        verdict = _run_one(verifier, *item)
        if bar:
            bar.update(1)
        return verdict

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items))), thread_name_prefix="verify") as threads:
        results = list(threads.map(one, items))
    if bar:
        bar.close()
    return results
