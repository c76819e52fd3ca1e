"""Checks of input rows made before anything is scored, so that a bad row stops the command with its line number
instead of crashing it part-way or being scored into a silently wrong number.

Strings holding a lone surrogate (``"\\ud800"``) are valid JSON and are accepted: a model can emit them, and
the writers escape them (``prime_common.jsonl.json_line``) so that they read back unchanged. NaN, Infinity and numbers
too large for a float are not JSON (RFC 8259) and are refused wherever they appear.
"""

from __future__ import annotations

import json
import math
from typing import Any


class _NotJson(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJson(f"number {text} is too large")
    return value


def parse_row(raw: bytes) -> dict[str, Any] | None:
    """One JSONL line as a JSON object; ``None`` for a blank line; ``ValueError`` with the reason otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The column an editor shows: characters before the bad byte, not bytes (an é before it is one column).
        column = len(raw[: exc.start].decode("utf-8", errors="replace")) + 1
        raise ValueError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {column})") from None
    if not text.strip():
        return None
    try:
        row = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _NotJson as exc:
        raise ValueError(f"invalid JSON ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise ValueError("invalid JSON (nested too deeply)") from None
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    return row


def check_gold(value: Any, where: str, field: str = "gold") -> None:
    """A reference answer is text or a finite number; anything else would be compared as its Python repr."""
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return
    if isinstance(value, float) and math.isfinite(value):
        return
    shown = "null" if value is None else json.dumps(value)[:60]
    raise ValueError(f"{where}: field {field!r} must be a string or a number, got {shown}")
