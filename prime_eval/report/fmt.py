"""Number and text formatting shared by the Markdown and HTML renderers, so both show the same figures."""

from __future__ import annotations

from .table import Cell

ANSWER_CHARS = 60


def pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{100 * x:.{digits}f}"


def signed_pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:+.1f}"


def p_value(p: float | None) -> str:
    if p is None:
        return "—"
    return f"{p:.2e}" if p < 1e-4 else f"{p:.4g}"


def count(c: Cell) -> str:
    """``problems×samples-per-problem``; the plain totals when samples are not the same for every problem."""
    if c.num_problems is None:
        return ""
    if c.num_samples is None:
        return f"{c.num_problems}"
    if c.num_problems and c.num_samples % c.num_problems == 0:
        return f"{c.num_problems}×{c.num_samples // c.num_problems}"
    return f"{c.num_problems} problems/{c.num_samples} samples"


def score(c: Cell | None) -> str:
    """``50.0 ± 2.1`` (percent), without the count and notes."""
    if c is None:
        return "—"
    return pct(c.mean) + (f" ± {pct(c.stderr)}" if c.stderr is not None else "")


def answer(text: str | None) -> str:
    if text is None:
        return "(none)"
    flat = " ".join(str(text).split())
    return flat if len(flat) <= ANSWER_CHARS else flat[: ANSWER_CHARS - 1] + "…"
