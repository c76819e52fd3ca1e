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
# An answer with any of these is a formula, not prose: "\frac{1}{LCs^2+RCs+1}" is a product of letters.
_MATH_SIGNS = re.compile(r"[\^_=+*/{}]|\\frac|\\sqrt")
# "a and b", "a or b"; without spaces only between brackets: "(11,7)or(7,11)".
_WORD_SEP = re.compile(r"\s+(?:and|or)\s+|(?<=[)\]])\s*(?:and|or)\s*(?=[(\[])|\s*;\s*")
_OR = re.compile(r"\s+or\s+|(?<=[)\]])\s*or\s*(?=[(\[])")
_NAME = re.compile(r"^(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?\w+\}?)?$")
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


@dataclass(frozen=True)
class Difference:
    """``A \\setminus B``: the set ``base`` without the elements of ``removed``."""

    base: Answer
    removed: Answer


Answer = Scalar | Text | Choice | Seq | Union | Matrix | Relation | Difference


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


def _parse(s: str, choice: bool = True) -> Answer:
    s = s.strip()
    match = _CHOICE.match(s) if choice else None
    if match and (match.group(1) or not match.group(3) or _option_text(s, match)):
        letter = (match.group(1) or match.group(2)).upper()
        rest = (match.group(3) or "").lstrip(" )")
        return Choice(letter, _parse(rest) if rest else None)
    if s == "\\emptyset":
        return Seq("set", ())
    unions = split_top(s, ("\\cup",))
    if len(unions) > 1:
        return Union(tuple(_parse(p) for p in unions))
    difference = split_top(s, ("\\setminus",))
    if len(difference) == 2:
        return Difference(_parse(difference[0]), _parse(difference[1]))
    if s.startswith("\\begin{pmatrix}") and s.endswith("\\end{pmatrix}"):
        body = s[len("\\begin{pmatrix}") : -len("\\end{pmatrix}")]
        rows = [r for r in body.split("\\\\") if r.strip()]
        return Matrix(tuple(tuple(_parse(c) for c in r.split("&")) for r in rows))
    groups = split_top(s, (";",))
    if len(groups) > 1 and any(len(split_top(g, (",",))) > 1 for g in groups):
        # "p=5,q=2; p=7,q=2": semicolons separate the solutions, commas the parts of one solution
        return Seq("list", tuple(_parse(g) for g in groups if g.strip()))
    items = split_top(s, (",", ";"))
    if len(items) == 1:
        words = _split_words(s)
        if len(words) > 1:
            parts = _items(words)
            if _OR.search(s) and all(isinstance(p, Relation) and "=" not in p.ops for p in parts):
                return Union(parts)  # "x < -1 or x > 1" is a union of two sets; "x = 2 or x = 3" a list
            return Seq("list", parts)
    if len(items) > 1:
        return Seq("list", _items(items))
    enclosed = _enclosed(s)
    if enclosed:
        open_, inner, close = enclosed
        inner_items = split_top(inner, (",",))
        if len(inner_items) == 1:
            inner_items = split_top(inner, (";",))  # "(0;-2;6)": the separator where the decimal mark is a comma
        if open_ == "\\{":
            return Seq("set", tuple(_parse(p) for p in inner_items if p.strip()))
        if len(inner_items) > 1:
            return Seq("bracket", tuple(_parse(p) for p in inner_items), open_, close)
        if (open_ == "(" and close == ")") or inner.strip().startswith("\\begin{pmatrix}"):
            return _parse(inner)  # "(x)" is x; "[\\begin{array}..\\end{array}]" is the matrix, bracketed
    if len(s) >= 2 and s[0] == "{" and s[-1] == "}" and _balanced(s[1:-1]):
        return _parse(s[1:-1])  # a plain TeX group "{2,3,5}" only groups; the set is "\\{2,3,5\\}"
    approx = split_top(s, ("\\approx",))
    if len(approx) > 1:
        # "x \approx 11" names its value; "\frac{\sqrt3}{3} \approx 0.577" is the exact value and a rounding of it
        head = approx[0].strip()
        return _parse(f"{head}={approx[1]}" if _NAME.match(head) else head)
    relation = _parse_relation(s)
    if relation:
        return relation
    if _PM in s or _MP in s:  # every \pm takes the same sign: "\frac{-1\pm\sqrt5}{2}" is two values
        plus = s.replace(_PM, "+").replace(_MP, "-")
        minus = s.replace(_PM, "-").replace(_MP, "+")
        return Seq("set", (_parse(plus), _parse(minus)), _PM)
    if _TEXT_RUN.search(s) and not _MATH_SIGNS.search(s):
        return Text(" ".join(s.lower().split()))
    return Scalar(s)


def _option_text(s: str, match: re.Match) -> bool:
    """Whether a bare letter is followed by its option's text ("C Cecile", "C) 12"), not by a formula ("A = 5",
    "C + 1", "Ce^{-2t}")."""
    after, rest = s[match.end(2) : match.end(2) + 1], match.group(3)
    return after in " )" and (rest[0].isalnum() or rest[0] in "()") and not _RELATION.match(rest)


def _items(raw: list[str]) -> tuple:
    """The elements of a bare list; an element that is itself a list ("16 or 11" in "21, 16 or 11") or a
    ``\\pm`` pair ("\\pm 1, \\pm 7") contributes its elements."""
    out: list[Answer] = []
    for piece in raw:
        if not piece.strip():
            continue
        item = _parse(piece)
        if isinstance(item, Seq) and (item.kind == "list" or item.open == _PM):
            out.extend(item.items)
        else:
            out.append(item)
    return tuple(out)


def _split_words(s: str) -> list[str]:
    """Split on "and", "or" and ";" outside brackets."""
    depth_before, depth = [], 0
    for _, unit, depth_after in _scan(s):
        depth_before.extend([depth] * len(unit))
        depth = depth_after
    parts, start = [], 0
    for m in _WORD_SEP.finditer(s):
        if depth_before[m.start()] == 0 and m.start() >= start:
            parts.append(s[start : m.start()])
            start = m.end()
    parts.append(s[start:])
    return [p for p in parts if p.strip()]


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
            parts.append(_parse(piece, choice=False))
    if any(not _balanced(p) for p in pieces[::2]):
        return None
    return Relation(tuple(parts), tuple(ops))
