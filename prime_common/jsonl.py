"""JSON on disk, in one place below every package (``benchmarks`` and ``sandbox`` may import it): reading JSONL
and users' input files (plain or gzip-compressed), an append-only JSONL writer that survives being killed
mid-write (SIGKILL included) or running out of disk, and atomic whole-file writes. Every write error is one line
naming the path, and no write leaves a half-written or temporary file behind."""

from __future__ import annotations

import gzip
import json
import os
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import UserError


class OutputError(UserError, RuntimeError):
    """An output that cannot be written; the message names the path and the reason, for the user."""

    exit_status = 1  # busy, unwritable or full: an environment fault, and a rerun resumes


def os_error(path: Path, exc: OSError) -> OutputError:
    """``exc`` as one line naming ``path`` (an ``OSError`` raised by ``write`` does not carry the file name)."""
    reason = exc.strerror or str(exc)
    return OutputError(f"cannot write {path}: {reason}")


def json_line(row: Any) -> str:
    """One JSONL line. Text stays readable (no ``\\u`` escapes), except that a string holding a lone surrogate
    (``"\\ud800"``: valid JSON, which a model can emit, but not encodable as UTF-8) is written with escapes: the
    line is then plain ASCII and reads back to the very same string, so such a row can be written and resumed."""
    return _json_text(row)


def json_document(value: Any) -> str:
    """An indented JSON file's text, with the same rule for lone surrogates as ``json_line``."""
    return _json_text(value, indent=2, default=str)


def _json_text(value: Any, **options: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, **options)
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, ensure_ascii=True, **options)
    return text + "\n"


def prepare_output_file(path: Path) -> None:
    """Create the parent folder and check that ``path`` can be a file, before any slow work starts."""
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder, not a file")
    prepare_output_dir(path.parent)


def prepare_output_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"cannot write {path}: it is a file, not a folder") from None
    except OSError as exc:
        raise os_error(path, exc) from None


def write_atomic(path: Path, content: str | bytes) -> None:
    """Replace ``path`` with ``content`` (text is written as UTF-8) all at once: a reader sees the old file or the
    new one, and a failed write (disk full) leaves the old file and no temporary one."""
    tmp = path.with_name(path.name + ".tmp")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise os_error(path, exc) from None


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


def read_jsonl(path: Path, *, skip_bad: bool = False) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file (``.gz`` too), blank lines skipped. A line that is not a JSON object is a
    ValueError naming ``path:line``; ``skip_bad`` leaves it out instead, for reading a file another process may be
    writing (its last line can be torn). Files this process appends to are read with :func:`read_repairing`."""
    rows = []
    for lineno, raw in enumerate(input_lines(path), 1):
        if not raw.strip():
            continue
        row = _parse_row(raw if raw.endswith(b"\n") else raw + b"\n")
        if row is not None:
            rows.append(row)
        elif not skip_bad:
            raise ValueError(f"{path}:{lineno}: not a JSON object")
    return rows


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

    def __enter__(self) -> Appender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._fd < 0:
                return
            try:
                self._fsync()
            finally:
                os.close(self._fd)
                self._fd = -1
