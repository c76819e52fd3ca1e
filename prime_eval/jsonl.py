"""Append-only JSONL files that survive being killed mid-write (SIGKILL included) or running out of disk, and the
reading of users' input files (plain or gzip-compressed)."""

from __future__ import annotations

import gzip
import json
import os
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .output_files import OutputError, json_line, os_error, prepare_output_file


def is_gzip(path: Path) -> bool:
    return path.name.endswith(".gz")


def read_input_bytes(path: Path) -> bytes:
    """The bytes of an input file, decompressed when its name ends in ``.gz``; ValueError naming the file when
    the compression is damaged."""
    raw = path.read_bytes()
    if not is_gzip(path):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: not a readable gzip file ({exc})") from None


def input_lines(path: Path) -> Iterator[bytes]:
    """The lines of an input file as bytes, streamed (``.gz`` decompressed on the fly)."""
    opener = gzip.open if is_gzip(path) else open
    try:
        with opener(path, "rb") as f:
            yield from f
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ValueError(f"{path}: not a readable gzip file ({exc})") from None


def read_repairing(path: Path) -> list[dict[str, Any]]:
    """Every row; a torn last line (the writer was killed mid-write) is cut off the file. A bad line before the
    last is damage no writer of ours leaves, so it is reported rather than cut with every row after it."""
    if not path.exists():
        return []
    try:
        with path.open("rb") as f:
            lines = f.readlines()
    except OSError as exc:
        raise OutputError(f"cannot read {path}: {exc.strerror or exc}") from None
    rows, good_bytes = [], 0
    for lineno, raw in enumerate(lines, 1):
        row = _parse_row(raw)
        if row is None:
            if lineno < len(lines):
                raise OutputError(f"{path}:{lineno}: not a JSON row; the file is damaged: repair or delete it")
            break
        rows.append(row)
        good_bytes += len(raw)
    if good_bytes != sum(map(len, lines)):
        try:
            with path.open("r+b") as f:
                f.truncate(good_bytes)
        except OSError as exc:
            raise os_error(path, exc) from None
    return rows


def _parse_row(raw: bytes) -> dict[str, Any] | None:
    if not raw.endswith(b"\n"):
        return None
    try:
        row = json.loads(raw)
    except ValueError:  # bad JSON or bad UTF-8
        return None
    return row if isinstance(row, dict) else None


class Appender:
    """Appends rows and hands each one to the OS at once, so a killed process loses at most the row being
    written. A row is written whole or not at all: when the disk fills mid-row, the part written is cut off again
    and ``OutputError`` is raised, so the file still ends at a row boundary and a rerun resumes from it.
    Thread-safe: backends may report completions from worker threads."""

    def __init__(self, path: Path, fsync_every: int = 64):
        prepare_output_file(path)
        self.path = path
        try:
            # Unbuffered: a failed write raises here, once, instead of again from a buffer flushed at close.
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError as exc:
            raise os_error(path, exc) from None
        self._lock = threading.Lock()
        self._fsync_every = fsync_every
        self._pending = 0

    def write(self, row: dict[str, Any]) -> None:
        data = json_line(row).encode("utf-8")
        with self._lock:
            start = os.lseek(self._fd, 0, os.SEEK_END)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view) :]
            except OSError as exc:
                self._cut_back(start)
                raise os_error(self.path, exc) from None
            self._pending += 1
            if self._pending >= self._fsync_every:  # on disk every so often: survives a machine crash too
                self._fsync()

    def _cut_back(self, size: int) -> None:
        try:
            os.ftruncate(self._fd, size)
        except OSError:
            pass  # the torn row is cut by read_repairing on the next run

    def _fsync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise os_error(self.path, exc) from None
        self._pending = 0

    def close(self) -> None:
        with self._lock:
            if self._fd < 0:
                return
            try:
                self._fsync()
            finally:
                os.close(self._fd)
                self._fd = -1
