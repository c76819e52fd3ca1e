"""String clean-up of an extracted answer before it is compared: pure, fast, no sympy.

The output is still LaTeX, with one spelling per construct (``\\frac{1}{2}`` for ``\\dfrac12``), no decoration
(``\\left``, ``\\displaystyle``, ``$``, spacing commands) and no units. Each rule is written so that it cannot turn
two different answers into the same string: units are only cut from the *end* of an answer, text is unwrapped
but never deleted from the middle (the Qwen harness deletes every "and"; lm-eval deletes "ft" from "\\left").
"""

from __future__ import annotations

import re
from fractions import Fraction

from benchmarks.boxes import brace_partners, find_boxes

from .latex_expr import compile_latex

# Units cut from the end of an answer ("5 \text{ cm}^2" -> "5"). Singular forms; a plural "s" is also accepted.
UNIT_WORDS = frozenset(
    """
    cm mm km m meter metre centimeter millimeter kilometer inch in foot feet ft yard yd mile
    second sec s minute min hour hr h day week month year yr
    g gram kg mg pound lb ounce oz ton liter litre ml
    degree deg radian rad dollar cent euro
    unit square sq cubic mph kmh kph percent
    point way integer student child people person page book marble coin ball
    ev kev mev gev nm um hz khz mhz ghz ml kj kw mw pa kpa atm mol kcal cal angstrom ohm volt watt joule newton
    pascal kelvin hertz
    """.split()
)
# Words that change what a trailing run of words means: "17 or more", "5 not 6" never lose their tail.
_NOT_UNITS = frozenset(
    """
    not no none nor or and but except never than plus minus times over under less more least most only also
    maybe perhaps possibly wrong incorrect false true undefined impossible infinite infinity each respectively
    """.split()
)
_WRAPPERS = (
    "\\text",
    "\\textnormal",
    "\\textup",
    "\\textsf",
    "\\texttt",
    "\\mathsf",
    "\\mathtt",
    "\\textbf",
    "\\textit",
    "\\mathrm",
    "\\mathbf",
    "\\mbox",
    "\\textrm",
    "\\mathit",
    "\\operatorname",
)
# "\\ " is a control space, but not the second half of a row break "\\\\ " in a matrix.
_DROP = re.compile(
    r"\\displaystyle|\\left(?![a-zA-Z])|\\right(?![a-zA-Z])|\\!|\\,|\\;|\\:|\\quad|\\qquad|(?<!\\)\\ |~"
)
_SPELLINGS = [
    (re.compile(r"\\[dtc]frac(?![a-zA-Z])"), r"\\frac"),
    (re.compile(r"\\leq?(?![a-zA-Z])|≤|\\leqslant"), r"\\le "),
    (re.compile(r"\\geq?(?![a-zA-Z])|≥|\\geqslant"), r"\\ge "),
    (re.compile(r"\\neq?(?![a-zA-Z])|≠"), r"\\ne "),
    (re.compile(r"\{(?:b|v|B|V|small)?matrix\}"), r"{pmatrix}"),
    (re.compile(r"\\begin\{array\}\{[^{}]*\}"), r"\\begin{pmatrix}"),
    (re.compile(r"\\end\{array\}"), r"\\end{pmatrix}"),
    (re.compile(r"\\mathbb\s*\{?R\}?(?![a-zA-Z])"), r"(-\\infty,\\infty)"),
    (re.compile(r"\\varnothing|\\emptyset|^\\\{\s*\\\}$"), r"\\emptyset"),
    (re.compile(r"\\[lr]?vert|\\[lr]Vert"), "|"),
    (re.compile(r"\\infinity|∞"), r"\\infty"),
    (re.compile(r"π"), r"\\pi "),
    (re.compile(r"√"), r"\\sqrt"),
    (re.compile(r"−"), "-"),
    (re.compile(r"\\(?:bigl?|bigr?|Bigl?|Bigr?)(?![a-zA-Z])"), ""),
]
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree")
_PERCENT = re.compile(r"\\?%|\\percent")
# "28 percent", "28 percentage", "28 pct" after a number are a percent sign.
_PERCENT_WORD = re.compile(r"(?<=[\d}])\s*(?:percent(?:age)?s?|pct)(?![a-zA-Z])", re.IGNORECASE)
_ANGSTROM = re.compile(r"\\AA(?![a-zA-Z])|Å|\\mathring\{A\}")
# "0.\overline{3}" = 1/3, "0.1\overline{6}" = 1/6: a repeating decimal is an exact rational.
_REPEATING = re.compile(r"(?<![\d.])(\d{0,40})\.(\d{0,40})\\overline\{(\d{1,40})\}")
_TRAILING_BACKSLASH = re.compile(r"(?:\\\\|\\)+$")
_DOLLARS = re.compile(r"\\\$|\$")
# 7,425,000 / 1{,}000 / 1\\,000 / 11,\\!111. Not after "(" or ",": "(1,7,103,105)" is a tuple.
_THOUSANDS = re.compile(r"(?<![\d.,(\[{])(\d{1,3})((?:(?:,\\!\s?|\{,\}|\\,|,)\d{3})+)(?![\d])")
_MULTIPLIERS = re.compile(r"(\d)\s*(thousand|million|billion|trillion)\b")
_MULTIPLIER_EXP = {"thousand": 3, "million": 6, "billion": 9, "trillion": 12}
_OVER = re.compile(r"\{([^{}]*)\\over(?![a-zA-Z])([^{}]*)\}")
_FRAC = re.compile(r"\\frac(?![a-zA-Z])")
_FRAC_TOKEN = re.compile(r"\s*(\\(?!sqrt|frac)[a-zA-Z]+|[0-9a-zA-Z])")
# "15\frac{39}{40}" is the mixed number 15 39/40 (as in MATH solutions), not 15 times 39/40.
_MIXED_NUMBER = re.compile(r"(?<![\w.}^{])(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}")
_SQRT_SHORT = re.compile(r"\\sqrt\s*(\d+|[a-zA-Z])")
_SPACES = re.compile(r"\s+")
_VAR_IN = re.compile(r"^[a-zA-Z](?:_\{?\w+\}?)?\s*\\in\s*")


def unwrap_command(s: str, command: str) -> str:
    """Replace ``\\command{x}`` by ``x`` everywhere (brace-matched; braces are matched once for the whole string, so
    a run of unclosed ``\\text{`` costs one pass, not one pass each)."""
    out = []
    partners: dict[int, int] | None = None
    i = 0
    while True:
        pos = s.find(command, i)
        if pos < 0:
            out.append(s[i:])
            return "".join(out)
        j = pos + len(command)
        if j < len(s) and s[j].isalpha():  # a longer command, e.g. \textbf when looking for \text
            out.append(s[i:j])
            i = j
            continue
        k = j
        while k < len(s) and s[k] == " ":
            k += 1
        if k < len(s) and s[k] == "{":
            partners = brace_partners(s) if partners is None else partners
            end = partners.get(k, -1)
            if end > 0:
                out.append(s[i:pos])
                out.append(s[k + 1 : end])
                i = end + 1
                continue
        out.append(s[i:j])
        i = j


def strip_units(s: str) -> str:
    """Cut a trailing run of unit words when something other than words is left: ``5 cm^2``, ``16\\pi`` square
    units. After a number without variables, any short run of words of three or more letters is cut too (``9
    boys``, ``17 any text``, ``35.06 g/mol``), unless one of them changes the meaning (``17 or more``)."""
    start, words = _trailing_word_run(s)
    if not words:
        return s
    head = s[:start].rstrip()
    if not head or not re.search(r"[\d}]", head):
        return s
    if all(_is_unit(w) for w in words):
        return head
    if len(words) > 3 or not all(_is_unit(w) or _is_plain_word(w) for w in words):
        return s
    compiled = compile_latex(head)
    return head if compiled is not None and not compiled.symbols else s


def _is_plain_word(word: str) -> bool:
    return len(word) >= 3 and word.isalpha() and word.lower() not in _NOT_UNITS


def braced_fractions(s: str) -> str:
    """``\\frac{625}4`` -> ``\\frac{625}{4}``, ``\\frac12`` -> ``\\frac{1}{2}``, ``\\frac\\pi2`` -> ``\\frac{\\pi}{2}``: an
    unbraced argument is one digit, letter or command. Braces are matched once for the whole string."""
    if "\\frac" not in s:
        return s
    partners = brace_partners(s)
    inserts: list[tuple[int, str]] = []
    for m in _FRAC.finditer(s):
        j = m.end()
        for _ in range(2):
            while j < len(s) and s[j] == " ":
                j += 1
            if j < len(s) and s[j] == "{":
                end = partners.get(j, -1)
                if end < 0:
                    break
                j = end + 1
                continue
            token = _FRAC_TOKEN.match(s, j)
            if token is None:
                break
            inserts += [(token.start(1), "{"), (token.end(1), "}")]
            j = token.end()
    if not inserts:
        return s
    out, i = [], 0
    for pos, text in sorted(inserts, key=lambda t: t[0]):
        out.append(s[i:pos])
        out.append(text)
        i = pos
    out.append(s[i:])
    return "".join(out)


def _repeating_fraction(m: re.Match) -> str:
    whole, fixed, repeat = m.group(1) or "0", m.group(2), m.group(3)
    value = Fraction(int(whole)) + Fraction(int(fixed or "0"), 10 ** len(fixed))
    value += Fraction(int(repeat), 10 ** len(fixed) * (10 ** len(repeat) - 1))
    return f"\\frac{{{value.numerator}}}{{{value.denominator}}}"


def _trailing_word_run(s: str) -> tuple[int, list[str]]:
    """Start and words of the longest run at the end of ``s`` of words joined by spaces, ``/``, ``\\cdot`` or
    ``*``, each maybe followed by ``.`` and an exponent ``^2``, ``^{-1}``: "m/s", "cm^2", "km \\cdot h^{-1}".

    Read right to left with explicit indices (a regex for this run backtracks exponentially on a long sentence).
    A word must not follow a backslash (``\\pi`` is not a unit).
    """
    end = _rskip_space(s, len(s))
    start, words = end, []
    while True:
        i = _skip_exponent(s, end)
        if i > 0 and s[i - 1] == ".":
            i -= 1
        w = i
        while w > 0 and s[w - 1].isascii() and s[w - 1].isalpha():
            w -= 1
        if w == i or (w > 0 and s[w - 1] == "\\"):
            return start, words[::-1]
        words.append(s[w:i])
        k = _rskip_space(s, w)  # one joiner at most, with spaces around it
        for joiner in ("/", "\\cdot", "*"):
            if s.endswith(joiner, 0, k):
                k = _rskip_space(s, k - len(joiner))
                break
        start = end = k


def _skip_exponent(s: str, end: int) -> int:
    """Start of an exponent ``^2``, ``^{-1}`` (with the spaces before it) ending at ``end``, else ``end``."""
    i = end
    if i > 0 and s[i - 1] == "}":
        i -= 1
    if not (i > 0 and s[i - 1] in "123"):
        return end
    i -= 1
    if i > 0 and s[i - 1] == "-":
        i -= 1
    if i > 0 and s[i - 1] == "{":
        i -= 1
    i = _rskip_space(s, i)
    if not (i > 0 and s[i - 1] == "^"):
        return end
    return _rskip_space(s, i - 1)


def _rskip_space(s: str, i: int) -> int:
    while i > 0 and s[i - 1].isspace():
        i -= 1
    return i


def _is_unit(word: str) -> bool:
    w = word.lower()
    return w in UNIT_WORDS or (w.endswith("s") and w[:-1] in UNIT_WORDS) or (w.endswith("es") and w[:-2] in UNIT_WORDS)


def remove_math_delimiters(s: str) -> str:
    s = s.strip()
    for left, right in (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")):
        if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
            s = s[len(left) : len(s) - len(right)].strip()
    return s


def normalize(answer: str, *, units: bool = True, keep_percent: bool = False, mixed_numbers: bool = True) -> str:
    """The cleaned form of an answer. Percent signs are dropped (``50\\%`` -> ``50``) unless ``keep_percent``;
    ``mixed_numbers`` reads an integer right before an integer fraction as a mixed number."""
    s = remove_math_delimiters(answer)
    boxes = find_boxes(s)
    if len(boxes) == 1 and boxes[0][0] == 0 and boxes[0][1] == len(s):
        s = boxes[0][2]
    s = s.replace("\n", " ")
    s = _THOUSANDS.sub(lambda m: m.group(1) + re.sub(r"\D", "", m.group(2)), s)
    s = _DROP.sub(" ", s)
    for pattern, repl in _SPELLINGS:
        s = pattern.sub(repl, s)
    for wrapper in _WRAPPERS:
        if wrapper in s:
            s = unwrap_command(s, wrapper)
    s = _DEGREES.sub("", s)
    s = _ANGSTROM.sub(" angstrom", s)
    s = _PERCENT_WORD.sub("\\%", s)
    s = _PERCENT.sub("\\%" if keep_percent else "", s)
    s = _REPEATING.sub(_repeating_fraction, s)
    s = _DOLLARS.sub("", s)
    s = s.replace("\\{", "\\lbrace ").replace("\\}", "\\rbrace ")  # protected from the brace clean-up below
    s = _OVER.sub(r"\\frac{\1}{\2}", s)
    s = _MULTIPLIERS.sub(lambda m: f"{m.group(1)}\\times10^{{{_MULTIPLIER_EXP[m.group(2)]}}}", s)
    s = braced_fractions(s)
    s = _SQRT_SHORT.sub(r"\\sqrt{\1}", s)
    if mixed_numbers:
        s = _MIXED_NUMBER.sub(r"(\1+\\frac{\2}{\3})", s)
    s = _VAR_IN.sub("", s)
    s = _TRAILING_BACKSLASH.sub("", _SPACES.sub(" ", s).strip()).strip()
    if units:
        s = strip_units(s)
    s = s.rstrip(" .")
    s = s.replace("\\lbrace ", "\\{").replace("\\rbrace ", "\\}").replace("\\lbrace", "\\{").replace("\\rbrace", "\\}")
    return s.strip()


def compact(s: str) -> str:
    """The whitespace-free form used for string equality."""
    return _SPACES.sub("", s)
