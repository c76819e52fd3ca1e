"""The structure of a normalized answer: sets, tuples, intervals, unions, matrices, relations, choices, text,
or a single scalar expression. Pure string work; values are compared in ``math_compare.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPEN = "([{"
_CLOSE = ")]}"
_RELATION = re.compile(r"(\\le |\\ge |\\ne |<=|>=|!=|=|<|>|\\lt|\\gt)")
_REL_CANON = {"<=": "\\le ", ">=": "\\ge ", "!=": "\\ne ", "\\lt": "<", "\\gt": ">"}
# "C", "(C)", "(c)", and a choice with its option's value: "(C) 12". A bare lowercase "e" is Euler's number.
_CHOICE = re.compile(r"^(?:\(([A-Ea-e])\)|([A-E]))(?:\s*(.*))?$")
_TEXT_RUN = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
_WORD_SEP = re.compile(r"\s+(?:and|or)\s+|\s*;\s*")
_OR = re.compile(r"\s+or\s+")
_PM = "\\pm"
_MP = "\\mp"


@dataclass(frozen=True)
class Scalar:
    latex: str


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Choice:
    letter: str
    value: Answer | None = None  # the option's content when the answer spells it out: "(C) 12"


@dataclass(frozen=True)
class Seq:
    """``kind`` is "set" (``\\{..\\}``, unordered), "list" (bare ``a, b``: unordered multi-answer) or "bracket"
    (``(a, b)``, ``[a, b)``: ordered; the bracket characters are part of the value, so ``(1,2)`` is not ``[1,2]``)."""

    kind: str
    items: tuple
    open: str = ""
    close: str = ""


@dataclass(frozen=True)
class Union:
    parts: tuple


@dataclass(frozen=True)
class Matrix:
    rows: tuple  # of tuples of answers


@dataclass(frozen=True)
class Relation:
    """``a = b``, ``x \\le 3``, ``1 < x < 2``: the parts and the operators between them."""

    parts: tuple
    ops: tuple


Answer = Scalar | Text | Choice | Seq | Union | Matrix | Relation


def _scan(s: str):
    """(index, unit, depth after it) for each character, ``\\{``/``\\}`` read as one bracket unit."""
    depth, i, n = 0, 0, len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n and s[i + 1] in "{}":
            depth += 1 if s[i + 1] == "{" else -1
            yield i, s[i : i + 2], depth
            i += 2
            continue
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        yield i, c, depth
        i += 1


def split_top(s: str, seps: tuple[str, ...]) -> list[str]:
    """Split on any separator that is not inside brackets (``\\{``/``\\}`` count as brackets)."""
    parts, start, n = [], 0, len(s)
    for i, unit, depth in _scan(s):
        if i < start or depth != 0 or unit in _CLOSE:
            continue
        for sep in seps:
            if s.startswith(sep, i) and not (sep[-1].isalpha() and i + len(sep) < n and s[i + len(sep)].isalpha()):
                parts.append(s[start:i])
                start = i + len(sep)
                break
    parts.append(s[start:])
    return parts


def _enclosed(s: str) -> tuple[str, str, str] | None:
    """(open, inner, close) when the whole string is one bracketed group."""
    if s.startswith("\\{") and s.endswith("\\}"):
        inner = s[2:-2]
        return ("\\{", inner, "\\}") if _balanced(inner) else None
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]":
        inner = s[1:-1]
        return (s[0], inner, s[-1]) if _balanced(inner) else None
    return None


def _balanced(s: str) -> bool:
    depth = 0
    for _, _, depth in _scan(s):
        if depth < 0:
            return False
    return depth == 0


MAX_DEPTH = 50


def nesting_depth(s: str) -> int:
    return max((depth for _, _, depth in _scan(s)), default=0)


def parse_answer(s: str) -> Answer:
    """The structure of a normalized answer; one nested beyond ``MAX_DEPTH`` stays an opaque scalar."""
    s = s.strip()
    if nesting_depth(s) > MAX_DEPTH:
        return Scalar(s)
    return _parse(s)


def _parse(s: str) -> Answer:
    s = s.strip()
    choice = _CHOICE.match(s)
    if choice and (choice.group(1) or not choice.group(3) or choice.group(3)[0] in " )"):
        letter = (choice.group(1) or choice.group(2)).upper()
        rest = (choice.group(3) or "").lstrip(" )")
        return Choice(letter, _parse(rest) if rest else None)
    if s == "\\emptyset":
        return Seq("set", ())
    unions = split_top(s, ("\\cup",))
    if len(unions) > 1:
        return Union(tuple(_parse(p) for p in unions))
    if s.startswith("\\begin{pmatrix}") and s.endswith("\\end{pmatrix}"):
        body = s[len("\\begin{pmatrix}") : -len("\\end{pmatrix}")]
        rows = [r for r in body.split("\\\\") if r.strip()]
        return Matrix(tuple(tuple(_parse(c) for c in r.split("&")) for r in rows))
    items = split_top(s, (",", ";"))
    if len(items) == 1 and _WORD_SEP.search(s):
        items = [p for p in _WORD_SEP.split(s) if p.strip()]
        parts = tuple(_parse(p) for p in items)
        if _OR.search(s) and all(isinstance(p, Relation) and "=" not in p.ops for p in parts):
            return Union(parts)  # "x < -1 or x > 1" is a union of two sets; "x = 2 or x = 3" a list
        return Seq("list", parts)
    if len(items) > 1:
        return Seq("list", tuple(_parse(p) for p in items if p.strip()))
    enclosed = _enclosed(s)
    if enclosed:
        open_, inner, close = enclosed
        inner_items = split_top(inner, (",",))
        if open_ == "\\{":
            return Seq("set", tuple(_parse(p) for p in inner_items if p.strip()))
        if len(inner_items) > 1:
            return Seq("bracket", tuple(_parse(p) for p in inner_items), open_, close)
        if open_ == "(" and close == ")":
            return _parse(inner)
    relation = _parse_relation(s)
    if relation:
        return relation
    if _PM in s or _MP in s:  # every \pm takes the same sign: "\frac{-1\pm\sqrt5}{2}" is two values
        plus = s.replace(_PM, "+").replace(_MP, "-")
        minus = s.replace(_PM, "-").replace(_MP, "+")
        return Seq("set", (_parse(plus), _parse(minus)))
    if _TEXT_RUN.search(s):
        return Text(" ".join(s.lower().split()))
    return Scalar(s)


def _parse_relation(s: str) -> Relation | None:
    pieces = _RELATION.split(s)
    if len(pieces) < 3:
        return None
    parts, ops = [], []
    for k, piece in enumerate(pieces):
        if k % 2:
            ops.append(_REL_CANON.get(piece, piece))
        else:
            if not piece.strip():
                return None
            parts.append(_parse(piece))
    if any(not _balanced(p) for p in pieces[::2]):
        return None
    return Relation(tuple(parts), tuple(ops))
