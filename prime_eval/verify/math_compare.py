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
from .answer_parse import Answer, Choice, Matrix, Relation, Scalar, Seq, Text, Union, parse_answer
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
_INFINITIES = {"\\infty": "+", "+\\infty": "+", "-\\infty": "-", "oo": "+", "-oo": "-", "infty": "+", "-infty": "-"}


# "204_5", "1011_{2}": digits in a base. Compared as digit strings: "54" is the value of 204_5 but not what a
# question asking for base 5 accepts; a missing base on one side is accepted (PRIME's cleaned MATH-500 golds
# dropped the subscripts).
_BASE_NUMBER = re.compile(r"^([0-9A-Za-z]+)_\{?(\d+)\}?$")


def _same_base_number(mg, mp, g: str, p: str) -> bool:
    digits_g, base_g = (mg.group(1), mg.group(2)) if mg else (g, None)
    digits_p, base_p = (mp.group(1), mp.group(2)) if mp else (p, None)
    if base_g and base_p and int(base_g) != int(base_p):
        return False
    return digits_g.upper().lstrip("0") == digits_p.upper().lstrip("0")


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
        if c.assignment_vs_value and is_assignment(rel):
            if not self.consistent_chain(rel):
                return False
            return self.equal(rel.parts[-1], other) if rel is g else self.equal(other, rel.parts[-1])
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
            raise Undecidable("both values are too large to evaluate")
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
                raise Undecidable("both values are too large to evaluate")
            if a is None or b is None:
                return False
            self.method = "exact" if isinstance(a, Fraction) and isinstance(b, Fraction) else "numeric"
            return self._numbers_equal(a, b, cg.has_decimal, cp.has_decimal)
        # Over the union of both sides' variables, so that an identity (sin^2 x + cos^2 x = 1) is found equal and
        # an expression in another variable (x + 1 vs y + 1) is not.
        tol = max(self._tolerance(cg.has_decimal, cp.has_decimal, False), FLOAT_REL_TOL)
        self.method = "numeric"
        checked = 0
        for env in _points(cg.symbols | cp.symbols, g + "\0" + p):
            try:
                a, b = evaluate(cg, env), evaluate(cp, env)
            except (ZeroDivisionError, ValueError, OverflowError, TooLarge):
                continue
            if not _values_equal(a, b, tol):
                return False
            checked += 1
            if checked >= 3:
                return True
        return False if checked else None

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


def _text_key(a: Answer) -> str:
    if isinstance(a, Text):
        return compact(a.text).lower()
    if isinstance(a, Scalar):
        return compact(a.latex).lower()
    return repr(a)


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
    """``x = 5``, ``f(x) = x^2``, ``a_1 = 3``: a name on the left, and only equalities."""
    if any(op != "=" for op in r.ops):
        return False
    lhs = r.parts[0]
    if not isinstance(lhs, Scalar):
        return isinstance(lhs, Text) and len(lhs.text) <= 12 and " " not in lhs.text
    s = compact(lhs.latex)
    return len(s) <= 2 or (s[0].isalpha() and (s[1:2] in ("_", "(") or s.startswith("\\")) and len(s) <= 12)


def _relation_to_interval(r: Relation) -> Answer | None:
    """``x < 3`` -> ``(-\\infty, 3)``; ``1 \\le x < 2`` -> ``[1, 2)``; ``x \\ne 3`` is not an interval."""
    strict = {"<": True, ">": True, "\\le ": False, "\\ge ": False}
    if not all(op in strict for op in r.ops):
        return None
    if len(r.parts) == 3 and r.ops[0] in ("<", "\\le ") and r.ops[1] in ("<", "\\le "):
        lo, hi = r.parts[0], r.parts[2]
        return Seq("bracket", (lo, hi), "(" if strict[r.ops[0]] else "[", ")" if strict[r.ops[1]] else "]")
    if len(r.parts) != 2:
        return None
    var_left = _is_variable(r.parts[0])
    if not var_left and not _is_variable(r.parts[1]):
        return None
    op = r.ops[0] if var_left else _FLIP[r.ops[0]]
    bound = r.parts[1] if var_left else r.parts[0]
    if op in ("<", "\\le "):
        return Seq("bracket", (parse_answer("-\\infty"), bound), "(", ")" if strict[op] else "]")
    return Seq("bracket", (bound, parse_answer("\\infty")), "(" if strict[op] else "[", ")")


def _is_variable(a: Answer) -> bool:
    return isinstance(a, Scalar) and len(compact(a.latex)) == 1 and a.latex.strip().isalpha()
