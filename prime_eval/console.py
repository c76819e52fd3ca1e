"""One unit on the console: every score a command prints is a percentage with its sign (``60.0%``); the JSON
files keep fractions (``0.6``), as the metrics compute them."""

from __future__ import annotations

import math


def pct(fraction: float | None, digits: int = 1) -> str:
    """``0.6`` -> ``"60.0%"``; ``None`` or NaN (a metric that does not apply) -> ``"n/a"``."""
    if fraction is None or math.isnan(fraction):
        return "n/a"
    return f"{100 * fraction:.{digits}f}%"


def pm(fraction: float, digits: int = 1) -> str:
    """A standard error in the same unit: ``0.049`` -> ``"±4.9%"``."""
    return "±" + pct(fraction, digits)
