"""Deciding whether two parsed answers are equal, cheapest evidence first.

Order: equal strings; exact rationals; numbers evaluated by ``latex_expr`` (exact, or complex floats for
radicals and pi); random-point evaluation for expressions with variables; sympy only when the fast subset
cannot read one side. Structures (sets, intervals, tuples, matrices, relations) compare element by element.
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass
from fractions import Fraction

from . import symbolic
from .answer_parse import Answer, Choice, Difference, Matrix, Relation, Scalar, Seq, Text, Union, parse_answer
from .latex_expr import TooLarge, Unsupported, Value, compile_latex, evaluate
from .latex_normalize import compact

# Tolerance for two exact closed forms evaluated in floating point (sqrt(8) vs 2 sqrt(2)).
FLOAT_REL_TOL = 1e-9
# Below this a float may be rounding noise of an exact zero (sin(pi) = 1.2e-16).
_NOISE = 1e-13
_TOO_LARGE = object()
# A number written with a decimal point or an exponent: "0.5", "1.2e8", "3E-2".
_DECIMAL = re.compile(r"\d\.\d|\d\.(?!\d)|\.\d|\d[eE][-+]?\d")
_FLIP = {"<": ">", ">": "<", "\\le ": "\\ge ", "\\ge ": "\\le ", "=": "=", "\\ne ": "\\ne "}
# The left side of an equation to solve, not a quantity: a constant term ("x+y-z+2") or a numeric coefficient
# ("2x + z"); "x^3", "x_1 + x_2", "|AB|", "\frac{NO}{BO}" are quantities.
_EQUATION_FORM = re.compile(r"(?:^|[-+])[\d.]+(?:[-+]|$)|(?<![\^_{\d.])\d+(?:\.\d+)?(?:[a-zA-Z]|\\[a-zA-Z])")
_COMMAND_NAME = re.compile(r"^\\([a-zA-Z]+)")
_INFINITIES = {"\\infty": "+", "+\\infty": "+", "-\\infty": "-", "oo": "+", "-oo": "-", "infty": "+", "-infty": "-"}


# "204_5", "1011_{2}": digits in a base. Two numerals compare as digit strings in the same base; "54" is the value
# of 204_5 but not what a question asking for base 5 accepts. A gold numeral with a base accepts its digits without
# the subscript (what the question asked for is clear); a prediction with a base against a plain gold is a number in
# that base: 204_5 is 54, not 204.
_BASE_NUMBER = re.compile(r"^([0-9A-Za-z]+)_\{?(\d+)\}?$")
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _same_base_number(mg, mp, g: str, p: str) -> bool:
    digits_g, base_g = (mg.group(1), mg.group(2)) if mg else (g, None)
    digits_p, base_p = (mp.group(1), mp.group(2)) if mp else (p, None)
    if base_g and base_p and int(base_g) != int(base_p):
        return False
    if base_p and not base_g:
        return _numeral_value(digits_p, int(base_p)) == _numeral_value(digits_g, 10)
    return digits_g.upper().lstrip("0") == digits_p.upper().lstrip("0")


def _numeral_value(digits: str, base: int) -> int | None:
    """The value of a numeral, ``None`` when it is not one in that base (or too long to be an answer)."""
    digits = digits.upper()
    if not 2 <= base <= 36 or len(digits) > 200 or any(_DIGITS.find(c) not in range(base) for c in digits):
        return None
    return int(digits, base)


class Undecidable(Exception):
    """Neither equal nor unequal can be shown (values too large to evaluate)."""


@dataclass(frozen=True)
class CompareConfig:
    rel_tol: float = 1e-6
    symbolic_fallback: bool = True
    relation_vs_interval: bool = True
    assignment_vs_value: bool = True
    list_matches_tuple: bool = True
    max_symbolic_calls: int = 12  # per verify call: each costs up to ~0.1 s, an answer may hold hundreds of parts


class Comparer:
    def __init__(self, config: CompareConfig):
        self.config = config
        self.method = "string"  # the strongest evidence used by the last equal() call
        self.symbolic_calls = 0

    def equal(self, gold: Answer, pred: Answer) -> bool:
        if gold == pred:
            return True
        if isinstance(gold, Choice) or isinstance(pred, Choice):
            return self._choice(gold, pred)
        if isinstance(gold, Relation) or isinstance(pred, Relation):
            return self._relation(gold, pred)
        if isinstance(gold, Difference) or isinstance(pred, Difference):
            g, p = _difference_as_union(gold), _difference_as_union(pred)
            if isinstance(g, Difference) or isinstance(p, Difference):
                return (
                    isinstance(g, Difference)
                    and isinstance(p, Difference)
                    and self._ordered((g.base, g.removed), (p.base, p.removed))
                )
            return self.equal(g, p)
        if isinstance(gold, Union) or isinstance(pred, Union):
            g, p = _as_union(gold), _as_union(pred)
            return len(g.parts) == len(p.parts) and self._multiset(g.parts, p.parts)
        if isinstance(gold, Seq) and isinstance(pred, Seq):
            return self._seq(gold, pred)
        if isinstance(gold, Matrix) or isinstance(pred, Matrix):
            return self._matrix(gold, pred)
        if isinstance(gold, Seq) or isinstance(pred, Seq):
            # A one-element list/set equals its element ("{5}" vs "5" stays unequal: a set is not a number).
            g, p = gold, pred
            if isinstance(g, Seq) and g.kind == "list" and len(g.items) == 1:
                return self.equal(g.items[0], p)
            if isinstance(p, Seq) and p.kind == "list" and len(p.items) == 1:
                return self.equal(g, p.items[0])
            return False
        if isinstance(gold, Text) or isinstance(pred, Text):
            return _text_key(gold) == _text_key(pred)
        return self.scalars(gold.latex, pred.latex)

    def _choice(self, g: Answer, p: Answer) -> bool:
        """Letters decide between two choices; against a plain answer, the option's spelled-out value does."""
        if isinstance(g, Choice) and isinstance(p, Choice):
            return g.letter == p.letter
        if isinstance(g, Choice):
            return g.value is not None and self.equal(g.value, p)
        return p.value is not None and self.equal(g, p.value)

    # --- structures -------------------------------------------------------------------------------------
    def _seq(self, g: Seq, p: Seq) -> bool:
        # A set or list of answers written with a repeated element names it once: {(3,17,3,7), (3, 17, 3, 7)}.
        g, p = (_distinct(x) if x.kind != "bracket" else x for x in (g, p))
        if len(g.items) != len(p.items):
            return False
        if g.kind == "bracket" and p.kind == "bracket":
            return g.open == p.open and g.close == p.close and self._ordered(g.items, p.items)
        if "bracket" in (g.kind, p.kind):
            # "(3, -1)" vs "3, -1": only a tuple in parentheses may drop its brackets, and order still counts.
            tup = g if g.kind == "bracket" else p
            other = p if tup is g else g
            if not (self.config.list_matches_tuple and other.kind == "list" and (tup.open, tup.close) == ("(", ")")):
                return False
            return self._ordered(g.items, p.items)
        return self._multiset(g.items, p.items)

    def _ordered(self, a: tuple, b: tuple) -> bool:
        return len(a) == len(b) and all(self.equal(x, y) for x, y in zip(a, b))

    def _multiset(self, gold: tuple, pred: tuple) -> bool:
        if len(gold) != len(pred):
            return False
        unused = list(pred)
        for g in gold:
            for k, p in enumerate(unused):
                if self.equal(g, p):
                    del unused[k]
                    break
            else:
                return False
        return True

    def _matrix(self, g: Answer, p: Answer) -> bool:
        both = isinstance(g, Matrix) and isinstance(p, Matrix)
        gm, pm = (g, p) if both else (_as_matrix(g), _as_matrix(p))  # a vector equals a tuple, not a transposed matrix
        if gm is None or pm is None:
            return False
        if len(gm.rows) != len(pm.rows) or any(len(a) != len(b) for a, b in zip(gm.rows, pm.rows)):
            return False
        return all(self._ordered(a, b) for a, b in zip(gm.rows, pm.rows))

    def _relation(self, g: Answer, p: Answer) -> bool:
        c = self.config
        if isinstance(g, Relation) and isinstance(p, Relation):
            return self._relations_equal(g, p)
        rel, other = (g, p) if isinstance(g, Relation) else (p, g)
        value = stated_value(rel) if c.assignment_vs_value else None
        if value is not None:
            if not self.consistent_chain(rel):
                return False
            return self.equal(value, other) if rel is g else self.equal(other, value)
        if c.relation_vs_interval and isinstance(other, (Seq, Union)):
            as_interval = _relation_to_interval(rel)
            if as_interval is not None:
                return self.equal(as_interval, other) if rel is g else self.equal(other, as_interval)
        return False

    def consistent_chain(self, r: Relation) -> bool:
        """Whether every variable-free part of a chain of equalities has the same value: ``x = 2+3 = 5`` is
        consistent, ``x = 1 = 2 = 5`` is not (it states no answer). Parts with variables are steps of a
        derivation and are not checked; a chain with another relation (``<``) is not a chain of values."""
        if any(op != "=" for op in r.ops):
            return True
        closed = [q for q in r.parts if isinstance(q, Scalar) and symbolic.free_letters(q.latex) == frozenset()]
        return all(self.equal(closed[-1], q) for q in closed[:-1])

    def _relations_equal(self, g: Relation, p: Relation) -> bool:
        if is_assignment(g) and is_assignment(p) and _text_key(g.parts[0]) == _text_key(p.parts[0]):
            return self.consistent_chain(p) and self.equal(g.parts[-1], p.parts[-1])
        for cand in (p, Relation(p.parts[::-1], tuple(_FLIP[o] for o in p.ops[::-1]))):
            if cand.ops == g.ops and self._ordered(g.parts, cand.parts):
                return True
        if g.ops == ("=",) and p.ops == ("=",) and all(isinstance(x, Scalar) for x in g.parts + p.parts):
            return self._same_equation(g, p)
        gl, pl = _linear_inequality(g), _linear_inequality(p)
        if gl and pl and gl[0] == pl[0]:  # "-x > -1" = "x < 1": the same variable in the same interval
            return self.equal(gl[1], pl[1])
        return False

    def _same_equation(self, g: Relation, p: Relation) -> bool:
        """``l1 = r1`` and ``l2 = r2`` describe the same equation when l1 - r1 = k (l2 - r2) for a constant k."""
        dg = f"({g.parts[0].latex})-({g.parts[1].latex})"
        dp = f"({p.parts[0].latex})-({p.parts[1].latex})"
        cg, cp = compile_latex(dg), compile_latex(dp)
        if cg is None or cp is None or cg.symbols != cp.symbols or not cg.symbols:
            return False
        ratios = []
        for env in _points(cg.symbols, dg + dp):
            try:
                a, b = complex(evaluate(cg, env)), complex(evaluate(cp, env))
            except (ZeroDivisionError, ValueError, OverflowError, TooLarge):
                continue
            if abs(b) < 1e-12:
                if abs(a) > 1e-9:
                    return False
                continue
            ratios.append(a / b)
        if len(ratios) < 2 or abs(ratios[0]) < 1e-12:
            return False
        self.method = "numeric"
        return all(_close(r, ratios[0], FLOAT_REL_TOL * 100) for r in ratios)

    # --- scalars ----------------------------------------------------------------------------------------
    def scalars(self, g: str, p: str) -> bool:
        if compact(g) == compact(p):
            return True
        inf_g, inf_p = _INFINITIES.get(compact(g)), _INFINITIES.get(compact(p))
        if inf_g or inf_p:
            return inf_g == inf_p
        base_g, base_p = _BASE_NUMBER.match(compact(g)), _BASE_NUMBER.match(compact(p))
        if base_g or base_p:
            return _same_base_number(base_g, base_p, compact(g), compact(p))
        time_g, time_p = _TIME.match(compact(g)), _TIME.match(compact(p))
        if time_g or time_p:
            return bool(time_g and time_p) and _same_time(time_g, time_p)
        folded = _case_folded(g, p)
        if folded:
            g, p = folded
        cg, cp = compile_latex(g), compile_latex(p)
        if cg is not None and cp is not None:
            decided = self._fast(g, p, cg, cp)
            if decided is not None:
                return decided
        if not self.config.symbolic_fallback:
            return False
        letters_g, letters_p = symbolic.free_letters(g), symbolic.free_letters(p)
        if letters_g is not None and letters_p is not None and letters_g != letters_p:
            self.method = "variables"
            return False
        self.symbolic_calls += 1
        if self.symbolic_calls > self.config.max_symbolic_calls:
            raise Undecidable(f"more than {self.config.max_symbolic_calls} symbolic comparisons in one answer")
        a, b = _sympy_or_too_large(g), _sympy_or_too_large(p)
        if a is _TOO_LARGE and b is _TOO_LARGE:
            self.method = "structure"  # neither can be evaluated: equal only as the same tree up to term order
            return symbolic.same_structure(g, p)
        if a is None or b is None or _TOO_LARGE in (a, b):
            return False
        self.method = "symbolic"
        gold_integer = bool(getattr(a, "is_Integer", False))
        tol = self._tolerance(_DECIMAL.search(g) is not None, _DECIMAL.search(p) is not None, gold_integer)
        try:
            return symbolic.sympy_equal(a, b, tol, seed=zlib.crc32((g + "\0" + p).encode()))
        except (TypeError, ValueError, AttributeError, ArithmeticError):
            return False  # sympy cannot evaluate one side (an unevaluated gcd of symbols, say): not shown equal

    def _tolerance(self, gold_decimal: bool, pred_decimal: bool, gold_integer: bool) -> float:
        """Relative tolerance between two values: 0 for an integer gold against a decimal (``1.234567e8`` is not
        123456789), ``rel_tol`` when either side is written as a decimal, else float noise only."""
        if gold_integer and pred_decimal:
            return 0.0
        return self.config.rel_tol if (gold_decimal or pred_decimal) else FLOAT_REL_TOL

    def _fast(self, g: str, p: str, cg, cp) -> bool | None:
        """Decide by value in the fast subset; ``None`` when a value needs more than it can compute."""
        if not cg.symbols and not cp.symbols:
            try:
                a, b = _value_or_none(cg), _value_or_none(cp)
            except Unsupported:
                return None
            except (ZeroDivisionError, ValueError, OverflowError):
                return False  # undefined on one side (1/0): not an answer equal to anything
            if a is None and b is None:
                return None  # both too large: the symbolic path compares their structure
            if a is None or b is None:
                return False
            self.method = "exact" if isinstance(a, Fraction) and isinstance(b, Fraction) else "numeric"
            return self._numbers_equal(a, b, cg.has_decimal, cp.has_decimal)
        # Over the union of both sides' variables, so that an identity (sin^2 x + cos^2 x = 1) is found equal and
        # an expression in another variable (x + 1 vs y + 1) is not.
        tol = max(self._tolerance(cg.has_decimal, cp.has_decimal, False), FLOAT_REL_TOL)
        self.method = "numeric"
        checked = 0
        symbols = cg.symbols | cp.symbols
        for env in _points(symbols, g + "\0" + p):
            try:
                a, b = evaluate(cg, env), evaluate(cp, env)
            except (ZeroDivisionError, ValueError, OverflowError, TooLarge):
                continue
            if not _values_equal(a, b, tol):
                return False
            checked += 1
            if checked >= 3:
                break
        if not checked:
            return None
        # One variable negative at a time: sqrt(x^2) and |x| are x only for x > 0. A point where either side is not
        # real (sqrt(x) at x < 0) is a branch choice, not evidence: sqrt(xy) = sqrt(x) sqrt(y) is kept.
        for flipped in _sign_flips(symbols, env):
            try:
                a, b = evaluate(cg, flipped), evaluate(cp, flipped)
            except (ZeroDivisionError, ValueError, OverflowError, TooLarge):
                continue
            if _is_real(a) and _is_real(b) and not _values_equal(a, b, tol):
                return False
        return True

    def _numbers_equal(self, a: Value, b: Value, gold_decimal: bool, pred_decimal: bool) -> bool | None:
        """Gold ``a`` against prediction ``b``: exact when both are rational and the gold is an integer (or neither
        is written as a decimal); a float near an exact zero is left to the symbolic path (``None``), since float
        noise (sin(pi) = 1e-16) and a tiny true value (sin(10^{-20})) look the same here."""
        gold_integer = isinstance(a, Fraction) and a.denominator == 1
        tol = self._tolerance(gold_decimal, pred_decimal, gold_integer)
        if isinstance(a, Fraction) and isinstance(b, Fraction):
            return a == b or (tol > FLOAT_REL_TOL and abs(a - b) <= Fraction(repr(tol)) * max(abs(a), abs(b)))
        try:
            ca, cb = complex(a), complex(b)
        except OverflowError:
            return False  # an exact value beyond the float range against a float: far apart
        if min(abs(ca), abs(cb)) == 0 and max(abs(ca), abs(cb)) < _NOISE:
            return None
        return tol > 0 and _close(ca, cb, tol)


def _value_or_none(compiled) -> Value | None:
    """The exact or numeric value, or ``None`` when it is too large to compute."""
    try:
        return evaluate(compiled)
    except TooLarge:
        return None


def _values_equal(a: Value, b: Value, tol: float) -> bool:
    """Two values at one evaluation point of an expression with variables."""
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a == b or (tol > FLOAT_REL_TOL and abs(a - b) <= Fraction(repr(tol)) * max(abs(a), abs(b)))
    try:
        ca, cb = complex(a), complex(b)
    except OverflowError:
        return False
    if min(abs(ca), abs(cb)) == 0 and max(abs(ca), abs(cb)) < _NOISE:
        return True  # float noise around an exact zero at one point, e.g. sin(pi x) at x = 1
    return _close(ca, cb, tol)


def _close(a: complex, b: complex, tol: float) -> bool:
    scale = max(abs(a), abs(b))
    return scale == 0 or abs(a - b) <= tol * scale


def _sympy_or_too_large(latex: str):
    """The sympy value, ``_TOO_LARGE`` when it is too costly to evaluate, ``None`` when it cannot be parsed."""
    try:
        return symbolic.to_sympy(latex)
    except symbolic.TooCostly:
        return _TOO_LARGE
    except symbolic.ParseFailure:
        return None


def _points(symbols: frozenset[str], seed_text: str):
    """Deterministic pseudo-random evaluation points: positive, away from small integers and from each other."""
    rng = random.Random(zlib.crc32(seed_text.encode()))
    names = sorted(symbols)
    for _ in range(8):
        yield {name: Fraction(rng.randint(1300, 9700), rng.randint(1100, 3700)) for name in names}


def _sign_flips(symbols: frozenset[str], env: dict):
    """The point ``env`` with one variable negated, for each variable (at most four)."""
    for name in sorted(symbols)[:4]:
        yield {**env, name: -env[name]}


def _is_real(v: Value) -> bool:
    return isinstance(v, Fraction) or abs(v.imag) <= 1e-12 * max(abs(v), 1.0)


# "1:58", "12:00:30", "1:58 a.m.": a clock time, not the ratio 1:58 (12:00 and 1:00 would both be x/0).
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?(?:([ap])\.?m\.?)?$", re.IGNORECASE)


def _same_time(g: re.Match, p: re.Match) -> bool:
    """Equal clock times; when only one side says a.m./p.m., the other is read on a 12-hour dial."""
    minutes = []
    for m in (g, p):
        hour, minute, second, half = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0), m.group(4)
        if half:
            hour = hour % 12 + (12 if half.lower() == "p" else 0)
        minutes.append(hour * 3600 + minute * 60 + second)
    if bool(g.group(4)) != bool(p.group(4)):
        return minutes[0] % 43200 == minutes[1] % 43200
    return minutes[0] == minutes[1]


def _case_folded(g: str, p: str) -> tuple[str, str] | None:
    """Both sides with upper-case single-letter variables lower-cased, when the two sides name the same variables
    up to case and neither names two variables differing only by case: ``Ce^{-2t}`` = ``ce^{-2t}`` (an arbitrary
    constant), ``No`` = ``no``; ``x + X`` keeps its two variables. ``E`` and ``I`` are never folded into ``e``
    (Euler's number) and ``i``."""
    lg, lp = symbolic.free_letters(g), symbolic.free_letters(p)
    if lg is None or lp is None or lg == lp:
        return None
    fg, fp = {x.lower() for x in lg}, {x.lower() for x in lp}
    if fg != fp or len(fg) != len(lg) or len(fp) != len(lp) or fg & {"e", "i"}:
        return None
    return _UPPER_LETTER.sub(_lower_letter, g), _UPPER_LETTER.sub(_lower_letter, p)


_UPPER_LETTER = re.compile(r"\\[a-zA-Z]+|[A-Z]")


def _lower_letter(m: re.Match) -> str:
    return m.group(0) if m.group(0).startswith("\\") else m.group(0).lower()


def _text_key(a: Answer) -> str:
    if isinstance(a, Text):
        return compact(a.text).lower()
    if isinstance(a, Scalar):
        return compact(a.latex).lower()
    return repr(a)


def _distinct(s: Seq) -> Seq:
    """The set without elements written identically (up to spacing); linear, so a long set stays cheap."""
    kept = {compact(repr(x)): x for x in s.items}
    return s if len(kept) == len(s.items) else Seq(s.kind, tuple(kept.values()), s.open, s.close)


def _as_union(a: Answer) -> Union:
    return a if isinstance(a, Union) else Union((a,))


def _as_matrix(a: Answer) -> Matrix | None:
    if isinstance(a, Matrix):
        if len(a.rows) > 1 and all(len(r) == 1 for r in a.rows):
            return Matrix((tuple(r[0] for r in a.rows),))  # a column vector compares like a tuple
        return a
    if isinstance(a, Seq) and a.kind == "bracket" and (a.open, a.close) == ("(", ")"):
        return Matrix((a.items,))
    return None


def is_assignment(r: Relation) -> bool:
    """``x = 5``, ``f(x) = x^2``, ``a_1 = 3``, ``\\omega = 2``, ``(p, q) = (3, 2)``: a name (or a tuple of names)
    on the left, and only equalities. ``7 = 11a + c`` is not one: a number names nothing."""
    if any(op != "=" for op in r.ops):
        return False
    return _is_name(r.parts[0])


def _is_name(a: Answer) -> bool:
    if isinstance(a, Seq) and a.kind == "bracket" and a.open == "(":
        return all(_is_name(x) for x in a.items)
    if isinstance(a, Text):
        return len(a.text) <= 12 and " " not in a.text and a.text[0].isalpha()
    if not isinstance(a, Scalar):
        return False
    s = compact(a.latex)
    command = _COMMAND_NAME.match(s)
    if not (s[:1].isalpha() or (command and command.group(1) in symbolic.GREEK)):
        return False
    return len(s) <= 2 or (s[1:2] in ("_", "(") or s.startswith("\\")) and len(s) <= 12


def stated_value(r: Relation) -> Answer | None:
    """The value a chain of equalities states, for comparison with a bare value: its last part, when the left
    side is a name (``x = 5``) or the last part is a closed value (``x + y = 4027``, ``|AB| = 1``,
    ``\\frac{NO}{BO} = \\frac{1}{\\sqrt6}``, ``x^3 = 12``). ``7 = 11a + c`` states no value."""
    if any(op != "=" for op in r.ops):
        return None
    last = r.parts[-1]
    if is_assignment(r):
        return last
    first = r.parts[0]
    if not (_closed(last) and isinstance(first, Scalar)) or _EQUATION_FORM.search(compact(first.latex)):
        return None  # "x + y - z + 2 = 0", "2x + z = 1": an equation (a plane), not the value of its left side
    return None if isinstance(last, Scalar) and compact(last.latex) in ("0", "-0") else last


def _closed(a: Answer) -> bool:
    """Whether an answer names no variable (a number, a tuple of numbers)."""
    if isinstance(a, Scalar):
        return symbolic.free_letters(a.latex) == frozenset()
    if isinstance(a, Seq):
        return bool(a.items) and all(_closed(x) for x in a.items)
    return False


def _relation_to_interval(r: Relation) -> Answer | None:
    """``x < 3`` -> ``(-\\infty, 3)``; ``1 \\le x < 2`` -> ``[1, 2)``; ``|x| < 3`` -> ``(-3, 3)``;
    ``1 \\le |z| \\le 2`` -> ``[-2, -1] \\cup [1, 2]``; ``x \\ne 3`` is not an interval."""
    strict = {"<": True, ">": True, "\\le ": False, "\\ge ": False}
    if not all(op in strict for op in r.ops):
        return None
    if len(r.parts) == 3 and r.ops[0] in ("<", "\\le ") and r.ops[1] in ("<", "\\le "):
        lo, middle, hi = r.parts
        opens, closes = "(" if strict[r.ops[0]] else "[", ")" if strict[r.ops[1]] else "]"
        if _is_variable(middle):
            return Seq("bracket", (lo, hi), opens, closes)
        if _is_abs_variable(middle):
            low = _real_value(lo)
            if low is None or low < 0 or (low == 0 and opens == "["):
                return Seq("bracket", (_negated(hi), hi), "[" if closes == "]" else "(", closes)
            flipped = "]" if opens == "[" else ")"
            return Union(
                (
                    Seq("bracket", (_negated(hi), _negated(lo)), "[" if closes == "]" else "(", flipped),
                    Seq("bracket", (lo, hi), opens, closes),
                )
            )
        return None
    if len(r.parts) != 2:
        return None
    left, right = r.parts
    if not (_is_variable(left) or _is_variable(right) or _is_abs_variable(left) or _is_abs_variable(right)):
        return None
    var_left = _is_variable(left) or _is_abs_variable(left)
    op = r.ops[0] if var_left else _FLIP[r.ops[0]]
    bound = right if var_left else left
    if _is_abs_variable(left if var_left else right):
        if op in ("<", "\\le "):  # |x| < b: -b < x < b
            return Seq("bracket", (_negated(bound), bound), "(" if strict[op] else "[", ")" if strict[op] else "]")
        inf, neg_inf = parse_answer("\\infty"), parse_answer("-\\infty")
        return Union(
            (
                Seq("bracket", (neg_inf, _negated(bound)), "(", ")" if strict[op] else "]"),
                Seq("bracket", (bound, inf), "(" if strict[op] else "[", ")"),
            )
        )
    if op in ("<", "\\le "):
        return Seq("bracket", (parse_answer("-\\infty"), bound), "(", ")" if strict[op] else "]")
    return Seq("bracket", (bound, parse_answer("\\infty")), "(" if strict[op] else "[", ")")


def _is_variable(a: Answer) -> bool:
    """A name whose values an inequality bounds: ``x``, ``f(x)``, ``a_1``."""
    return isinstance(a, Scalar) and _is_name(a)


def _linear_inequality(r: Relation) -> tuple[str, Answer] | None:
    """(variable, interval) of an inequality linear in one variable: ``-x > -1`` -> ("x", ``(-\\infty, 1)``),
    ``2x + 1 \\le 7`` -> ("x", ``(-\\infty, 3]``). Linear means exactly: f(0), f(1), f(2) of left minus right are
    exact rationals in arithmetic progression with a nonzero step."""
    if (
        len(r.parts) != 2
        or r.ops[0] not in ("<", ">", "\\le ", "\\ge ")
        or not all(isinstance(x, Scalar) for x in r.parts)
    ):
        return None
    compiled = compile_latex(f"({r.parts[0].latex})-({r.parts[1].latex})")
    if compiled is None or len(compiled.symbols) != 1:
        return None
    (name,) = compiled.symbols
    try:
        f = [evaluate(compiled, {name: Fraction(k)}) for k in range(3)]
    except (TooLarge, ZeroDivisionError, ValueError, OverflowError):
        return None
    if not all(isinstance(v, Fraction) for v in f) or f[2] - f[1] != f[1] - f[0] or f[1] == f[0]:
        return None
    slope = f[1] - f[0]
    root = -f[0] / slope
    op = r.ops[0] if slope > 0 else _FLIP[r.ops[0]]
    bound = Scalar(f"\\frac{{{root.numerator}}}{{{root.denominator}}}")
    return name, _relation_to_interval(Relation((Scalar("x"), bound), (op,)))


def _is_abs_variable(a: Answer) -> bool:
    s = compact(a.latex) if isinstance(a, Scalar) else ""
    return len(s) == 3 and s[0] == s[2] == "|" and s[1].isalpha()


def _negated(a: Answer) -> Answer:
    return Scalar(f"-({a.latex})") if isinstance(a, Scalar) else a


def _real_value(a: Answer) -> float | None:
    """The real value of a closed scalar (infinities included), or ``None``."""
    if not isinstance(a, Scalar):
        return None
    sign = _INFINITIES.get(compact(a.latex))
    if sign:
        return float(sign + "inf")
    compiled = compile_latex(a.latex)
    if compiled is None or compiled.symbols:
        return None
    try:
        v = complex(evaluate(compiled))
    except (TooLarge, ZeroDivisionError, ValueError, OverflowError):
        return None
    return v.real if abs(v.imag) <= 1e-12 * max(abs(v), 1.0) else None


def _difference_as_union(a: Answer) -> Answer:
    """``(-\\infty,\\infty) \\setminus \\{1\\}`` -> ``(-\\infty,1) \\cup (1,\\infty)``: an interval without finitely
    many of its inner points; anything else stays a ``Difference``."""
    if not isinstance(a, Difference):
        return a
    base, removed = a.base, a.removed
    if not (isinstance(base, Seq) and base.kind == "bracket" and len(base.items) == 2):
        return a
    if not (isinstance(removed, Seq) and removed.kind == "set" and removed.items):
        return a
    lo, hi = _real_value(base.items[0]), _real_value(base.items[1])
    points = sorted({v: x for x in removed.items if (v := _real_value(x)) is not None}.items())
    if lo is None or hi is None or len(points) != len(removed.items) or not all(lo < v < hi for v, _ in points):
        return a
    parts, left, left_open = [], base.items[0], base.open
    for _, point in points:
        parts.append(Seq("bracket", (left, point), left_open, ")"))
        left, left_open = point, "("
    parts.append(Seq("bracket", (left, base.items[1]), "(", base.close))
    return Union(tuple(parts))
