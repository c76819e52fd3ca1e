"""The value a sentence of prose states: "The radius is 3 units." -> ``3``, "the number of ways is 120" -> ``120``,
"We need $2x = 10$, so $x = 5$." -> ``5``. Used on the body of an answer phrase and on the final statement of a
response without a box or phrase (docs/verifier.md, "Extraction").

A sentence is read the way a human grader reads it: its last main clause (after "; ", ", so", ", hence" ...), cut
before a trailing aside (", which ...", ", since ...", ", attained at ..."), then the first value after the clause's
last verb of equality ("is", "are", "=", "equals", "gives", "obtain" ...), else its last value. A value is a math
span, or a run of digits and LaTeX up to the first English word ("42 apples" -> ``42``; "2 and 3" stays a list).
A sentence that hedges ("might", "maybe", "not sure", "either") between several values states no answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .math_spans import Span, all_math_spans

# Longest text read as one statement; a longer body is returned as it is (and then not graded for its length).
MAX_STATEMENT_CHARS = 2_000
_WORD = re.compile(r"(?<![\\A-Za-z])(?:[A-Za-z]{2,}|[A-Za-z]+[²³])(?![A-Za-z])")
_COMMAND = re.compile(r"\\[A-Za-z]+")
_COPULA = re.compile(
    r"(?<![\w\\])(?:is|are|was|were|equals?|be|becomes?|gives?|yields?|obtain|get|gets|to|=|≈|\\approx|\\equiv)"
    r"(?![\w])",
    re.IGNORECASE,
)
_MAIN_CLAUSE = re.compile(
    r";\s|,\s*(?:and\s+)?(?:so|hence|thus|therefore|then|giving|and so)\b|\s(?:so that|hence|therefore|thus)\b",
    re.IGNORECASE,
)
_ASIDE = re.compile(
    r",\s*(?:which|since|because|as|where|when|while|whereas|if|unless|but|not|for|with|attained|achieved|obtained|"
    r"reached|i\.e\.|e\.g\.|that is|namely|hence|so|thus|therefore|giving|after|before)\b|\s\((?:since|because|as|"
    r"i\.e\.|e\.g\.|which)\b|\s(?:because|since)\s",
    re.IGNORECASE,
)
_HEDGE = re.compile(
    r"\b(?:maybe|perhaps|possibly|probably|might|either|not sure|unsure|could be|can't tell|cannot tell|or so)\b",
    re.IGNORECASE,
)
_VALUE_START = re.compile(r"[-+−±(\[\\\d]|\.\d|[A-Za-z](?:_\{?\w+\}?)?\s*(?:=|\\le|\\ge|<|>)")
_SPAN_JOINER = re.compile(r"\s*(?:,\s*(?:and\s+|or\s+)?|(?:and|or)\s+)(?=\x00)", re.IGNORECASE)
_LIST_JOINER = re.compile(r"\s*(?:,\s*)?(?:and|or)\s+", re.IGNORECASE)
# A choice named in words: "Option B", "for sure D", "(C)".
_OPTION = re.compile(r"^(?:[A-Za-z']+\s+){0,3}\(?([A-E])\)?$")
_DIGIT = re.compile(r"\d")
_TRAILING = " \t\n.,;:!?(["
# Plain-text characters a value may hold besides ASCII: math symbols, not currency or unit signs ("1,000.99€").
_MATH_UNICODE = set("π√±≤≥≠∞°×÷−·∈∪∩∅")


@dataclass(frozen=True)
class _Text:
    """A piece of prose with its math spans located once: ``plain(i, j)`` is the text with spans blanked out, so
    words and verbs are searched outside math only."""

    s: str
    spans: list[Span]

    @classmethod
    def of(cls, s: str) -> _Text:
        return cls(s, all_math_spans(s))

    def masked(self) -> str:
        """``s`` with every span's characters replaced by ``\\x00`` (same length, same indices)."""
        out, last = [], 0
        for sp in self.spans:
            out.append(self.s[last : sp.start])
            out.append("\x00" * (sp.end - sp.start))
            last = sp.end
        out.append(self.s[last:])
        return "".join(out)

    def span_at(self, i: int) -> Span | None:
        for sp in self.spans:
            if sp.start == i:
                return sp
            if sp.start > i:
                break
        return None


def has_value(s: str) -> bool:
    """A digit or a math span: what a final statement must hold to state a value."""
    return bool(_DIGIT.search(s)) or bool(all_math_spans(s))


def hedges(s: str) -> bool:
    """``s`` has a hedge word: "maybe", "might", "either", "not sure" ..."""
    return bool(_HEDGE.search(s))


def is_hedged(s: str) -> bool:
    """A hedge word and more than one distinct value: "It might be 5, or 6." (one value with "might" is not)."""
    if not hedges(s):
        return False
    values = {v.strip() for v in re.findall(r"-?\d+(?:\.\d+)?", s)}
    return len(values) > 1 or len(all_math_spans(s)) > 1


def statement_value(s: str, need_value: bool, last_side: bool = False) -> str | None:
    """The value ``s`` states (see the module docstring). ``need_value``: ``None`` when no number or math is
    found (a final statement); else the trimmed text itself ("Monday", "Option B" -> ``B``). ``last_side``: an
    equation whose right side is variable-free gives that side ("$x^3 = 12$" -> ``12``)."""
    s = s.strip()
    if len(s) > MAX_STATEMENT_CHARS:
        return None if need_value else s
    if is_hedged(s):
        return None
    text = _Text.of(s)
    masked = text.masked()
    if not need_value:  # "Option B, which gives 14" -> B: a choice before an aside is the answer
        head = _OPTION.match(s.split(",", 1)[0].strip(_TRAILING))
        if head:
            return head.group(1)
    start, end = _main_clause(masked)
    value = _clause_value(text, masked, start, end, first=not need_value)
    if value is None:
        if need_value:
            return None
        plain = s[start:end].strip(_TRAILING) or s.strip(_TRAILING)
        option = _OPTION.match(plain)
        return option.group(1) if option else plain or None
    if last_side:
        value = _last_side(value)
    return value or None


def _main_clause(masked: str) -> tuple[int, int]:
    """The last main clause holding a value, then cut before a trailing aside (indices into the text)."""
    start = 0
    for m in _MAIN_CLAUSE.finditer(masked):
        if _holds_value(masked[m.end() :]):
            start = m.end()
    end = len(masked)
    for m in _ASIDE.finditer(masked, start):
        if _holds_value(masked[start : m.start()]):
            end = m.start()
            break
    return start, end


def _holds_value(masked: str) -> bool:
    return "\x00" in masked or bool(_DIGIT.search(masked))


def _clause_value(text: _Text, masked: str, start: int, end: int, first: bool) -> str | None:
    """The first value after the clause's last verb of equality, else the clause's first value (after an answer
    phrase: "The final answer is $12$ and $13$") or last value (a final statement: "We find that $x < 3$")."""
    copulas = [m.end() for m in _COPULA.finditer(masked, start, end)]
    for pos in reversed(copulas):
        if _holds_value(masked[pos:end]):
            return _value_at(text, masked, pos, end)
    values = list(_value_starts(masked, start, end))
    if not values:
        return None
    return _value_at(text, masked, values[0] if first else values[-1], end)


def _value_starts(masked: str, start: int, end: int):
    """Where a value begins: a span, or a value character at a word boundary whose run holds a digit or a LaTeX
    command (a lone "(" or "-" is punctuation)."""
    i = start
    while i < end:
        if masked[i] == "\x00":
            yield i
            i = _value_end(masked, i, end)
        elif _VALUE_START.match(masked, i) and (i == 0 or not masked[i - 1].isalnum()):
            j = _value_end(masked, i, end)
            if _DIGIT.search(masked, i, j) or _COMMAND.search(masked, i, j):
                yield i
            i = max(j, i + 1)
        else:
            i += 1


def _value_at(text: _Text, masked: str, pos: int, end: int) -> str | None:
    """The first value at or after ``pos``: a span's content, or a plain run up to the first English word."""
    for i in _value_starts(masked, pos, end):
        if not _holds_value(masked[i:end]):
            return None
        span = text.span_at(i)
        if span is not None:
            return _span_list(text, masked, span, end)
        value = text.s[i : _value_end(masked, i, end)].strip(_TRAILING)
        if value:
            return value
    return None


def _span_list(text: _Text, masked: str, span: Span, end: int) -> str | None:
    """A span's content, with the spans that follow it joined by "and", "or" or a comma: "$2$ and $3$" -> "2, 3"."""
    parts = [span.content.strip()]
    while True:
        joiner = _SPAN_JOINER.match(masked, span.end, end)
        nxt = text.span_at(joiner.end()) if joiner else None
        if nxt is None:
            break
        parts.append(nxt.content.strip())
        span = nxt
    return ", ".join(p for p in parts if p) or None


def _value_end(masked: str, i: int, end: int) -> int:
    """End of the value starting at ``i``: a span is one value; a plain run ends at an English word (outside
    braces: ``10 \\text{ cm}`` is one value), a sentence end or a character that is not math, except that "and" /
    "or" between two values continue a list."""
    if masked[i] == "\x00":
        while i < end and masked[i] == "\x00":
            i += 1
        return i
    depth = 0
    j = i
    while j < end:
        c = masked[j]
        if c == "{":
            depth += 1
        elif c == "}":
            depth = max(0, depth - 1)
        elif depth == 0:
            if c == "\x00" or (ord(c) > 127 and c not in _MATH_UNICODE):
                break
            if c == "\\":
                cmd = _COMMAND.match(masked, j)
                j = cmd.end() if cmd else j + 2
                continue
            if c in ".!?" and (j + 1 >= end or masked[j + 1].isspace()):
                break
            word = _WORD.match(masked, j) if c.isalpha() and (j == 0 or not masked[j - 1].isalpha()) else None
            if word:
                joiner = _LIST_JOINER.match(masked, j - 1 if masked[j - 1].isspace() else j)
                if joiner and _VALUE_START.match(masked, joiner.end()) and joiner.group(0).strip():
                    j = joiner.end()
                    continue
                break
        j += 1
    return j


def _last_side(value: str) -> str:
    """``lhs = ... = v`` -> ``v`` when ``v`` holds no letter (so it is a plain value, not an expression of
    variables); any other value, a list ("x=2, x=3") or a relation included, as it is."""
    if "=" not in value or "," in value or any(op in value for op in ("\\le", "\\ge", "<", ">", "\\ne", "!=")):
        return value
    right = value.rsplit("=", 1)[1].strip()
    letters = re.sub(r"\\(?:frac|dfrac|tfrac|sqrt|pi|cdot|times|left|right|infty)", "", right)
    return right if right and not re.search(r"[A-Za-z]", letters) else value
