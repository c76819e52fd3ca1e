"""Writing outputs so that an environment fault (disk full, a path that is a folder or lies under a file, no
permission) is one clear error naming the path, and never leaves a half-written or temporary file behind."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from prime_common.errors import UserError


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
    try:
        text = json.dumps(row, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(row, ensure_ascii=True)
    return text + "\n"


def json_document(value: Any) -> str:
    """An indented JSON file's text, with the same rule for lone surrogates as ``json_line``."""
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, indent=2, ensure_ascii=True, default=str)
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
