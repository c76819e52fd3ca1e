"""The grammar of ``\\boxed{...}``: brace matching and box scanning, shared by the benchmarks (a reference
solution's last box is Minerva's gold) and the math verifier (``prime_eval.verify.extract`` reads a response's
boxes with the same rules, then decides which of them is the answer).
"""

from __future__ import annotations

import re

_BOX_START = re.compile(r"\\(?:boxed|fbox)")
_BARE_BOX_TOKEN = re.compile(r"[^\s$]+")


def match_brace(text: str, open_pos: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``open_pos``, or -1. Escaped braces ``\\{`` do not count."""
    return _pair_braces(text, open_pos, first_only=True).get(open_pos, -1)


def brace_partners(text: str) -> dict[int, int]:
    """Index of each ``{`` -> index of the ``}`` closing it, for every brace that closes, in one pass (for a
    parser that looks up many braces of one string). Agrees with :func:`match_brace` on every unescaped ``{``."""
    return _pair_braces(text, 0, first_only=False)


def _pair_braces(text: str, start: int, first_only: bool) -> dict[int, int]:
    # One scan for both: a backslash escapes the character after it; first_only stops at the close of the brace
    # at ``start``, so matching one box costs its length, not the rest of the response.
    partners: dict[int, int] = {}
    stack: list[int] = []
    i, n = start, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            stack.append(i)
        elif c == "}" and stack:
            partners[stack.pop()] = i
            if first_only and not stack:
                break
        i += 1
    return partners


def scan_boxes(text: str) -> tuple[list[tuple[int, int, str]], bool]:
    """All ``\\boxed{...}``/``\\fbox{...}`` (and ``\\boxed 5``) as (start, end, content), in order, and whether the
    scan stopped at an unclosed box. One left-to-right pass: each character is read a bounded number of times."""
    boxes = []
    n = len(text)
    i = 0
    while True:
        m = _BOX_START.search(text, i)
        if m is None:
            return boxes, False
        pos, j = m.start(), m.end()
        while j < n and text[j] == " ":
            j += 1
        if j < n and text[j] == "{":
            end = match_brace(text, j)
            if end < 0:
                return boxes, True  # an unclosed box is not an answer
            boxes.append((pos, end + 1, text[j + 1 : end]))
            i = end + 1
        elif j > m.end():  # "\boxed 5": one token up to whitespace or "$"
            token = _BARE_BOX_TOKEN.match(text, j)
            if token:
                boxes.append((pos, token.end(), token.group(0)))
            i = token.end() if token else j
        else:
            i = j


def find_boxes(text: str) -> list[tuple[int, int, str]]:
    """The closed boxes of ``text`` (see :func:`scan_boxes`)."""
    return scan_boxes(text)[0]


def last_box(text: str) -> str | None:
    """The content of the last closed box, stripped (a gold read from a reference solution)."""
    boxes = find_boxes(text)
    return boxes[-1][2].strip() if boxes else None
