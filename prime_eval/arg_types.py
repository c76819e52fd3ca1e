"""Argument types for numeric flags, shared by every command line (``prime-eval``, its ``bon``, ``prime-train``).

``float("nan")`` parses, and NaN fails every comparison, so a check like ``timeout <= 0`` lets it through: a
NaN timeout then never fires. Each type here refuses NaN and infinities and states its range in the error.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def _number(cast: type, accept: Callable[[float], bool], what: str) -> Callable[[str], float]:
    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    parse.__name__ = what  # argparse names the type by it in some messages
    return parse


positive_int = _number(int, lambda v: v >= 1, "an integer of at least 1")
nonnegative_int = _number(int, lambda v: v >= 0, "an integer of at least 0")
positive_float = _number(float, lambda v: v > 0, "a positive number")
nonnegative_float = _number(float, lambda v: v >= 0, "a number of at least 0")
probability = _number(float, lambda v: 0 < v <= 1, "a number in (0, 1]")
