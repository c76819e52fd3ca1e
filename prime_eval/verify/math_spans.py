"""Math-mode spans in a response: ``$$..$$``, ``$..$``, ``\\(..\\)``, ``\\[..\\]``, found in one linear scan.

A regex with a lazy body per delimiter rescans the rest of the text from every opener that never closes, which is
quadratic on a response of a million ``\\(``; here a delimiter kind whose closing search reached the end of the text
is never searched for again (no later opener of that kind can close either).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPEN = re.compile(r"\$|\\\(|\\\[")
_CLOSE = {"$$": "$$", "\\(": "\\)", "\\[": "\\]"}
_DEAD = object()  # no span of this kind closes anywhere after here


@dataclass(frozen=True)
class Span:
    start: int
    end: int  # just past the closing delimiter
    content: str


def math_span(s: str, anchored: bool = False) -> Span | None:
    """The first span in ``s`` (only one starting at 0 when ``anchored``). ``$$`` is tried before ``$``; in a
    ``$..$`` span an escaped ``\\$`` is a dollar sign, not the end, and a ``$`` right after a backslash opens none."""
    return next(_spans(s, anchored), None)


def all_math_spans(s: str) -> list[Span]:
    """Every span of ``s``, left to right, not overlapping: the rule of :func:`math_span` applied again after each
    span found, in one linear scan."""
    return list(_spans(s, anchored=False))


def _spans(s: str, anchored: bool):
    """The spans of ``s`` in order; a delimiter kind whose closing search reached the end stays dead for the rest."""
    dead: set[str] = set()
    i, n = 0, len(s)
    while i < n:
        m = _OPEN.search(s, i)
        if m is None or (anchored and m.start() != 0):
            return
        p = m.start()
        found = None
        for kind in (("$$",) if s.startswith("$$", p) else ()) + (m.group(0),):
            if kind in dead:
                continue
            span = _span_at(s, p, kind)
            if span is _DEAD:
                dead.add(kind)
            elif span is not None:
                found = span
                break
        if anchored:
            if found is not None:
                yield found
            return
        if found is None:
            i = p + 1
        else:
            yield found
            i = found.end


def _span_at(s: str, p: int, kind: str):
    """The span of ``kind`` opening at ``p``; ``None`` when it cannot open here, ``_DEAD`` when it never closes."""
    if kind != "$":
        end = s.find(_CLOSE[kind], p + len(kind) + 1)  # the content is at least one character
        return Span(p, end + len(kind), s[p + len(kind) : end]) if end >= 0 else _DEAD
    if p > 0 and s[p - 1] == "\\":
        return None
    j, n = p + 1, len(s)
    while j < n:
        c = s[j]
        if c == "\\":
            j += 2
        elif c == "$":
            return Span(p, j + 1, s[p + 1 : j]) if j > p + 1 else None
        else:
            j += 1
    return _DEAD
