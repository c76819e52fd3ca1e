"""Append-only JSONL files that survive being killed mid-write (SIGKILL included)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


def read_repairing(path: Path) -> list[dict[str, Any]]:
    """Every complete row; a torn last line (the writer was killed mid-write) is cut off the file."""
    if not path.exists():
        return []
    rows, good_bytes = [], 0
    with path.open("rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break
            try:
                rows.append(json.loads(raw))
            except json.JSONDecodeError:
                break
            good_bytes += len(raw)
    if good_bytes != path.stat().st_size:
        with path.open("r+b") as f:
            f.truncate(good_bytes)
    return rows


class Appender:
    """Appends rows and flushes each one to the OS, so a killed process loses at most the row being written.
    Thread-safe: backends may report completions from worker threads."""

    def __init__(self, path: Path, fsync_every: int = 64):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._fsync_every = fsync_every
        self._pending = 0

    def write(self, row: dict[str, Any]) -> None:
        line = json.dumps(row, ensure_ascii=False) + "\n"
        with self._lock:
            self._f.write(line)
            self._f.flush()  # in the kernel now: survives SIGKILL of this process
            self._pending += 1
            if self._pending >= self._fsync_every:  # and on disk every so often: survives a machine crash too
                os.fsync(self._f.fileno())
                self._pending = 0

    def close(self) -> None:
        with self._lock:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
