"""An upper bound on the exact size of a sympy expression's value, read off its unevaluated tree, so that the
symbolic path never starts a computation it cannot finish: ``((10!)!)!``, ``\\binom{2^{9999}}{2000}``,
``\\sum_{n=1}^{10^6} 1/n`` and ``\\log(10^{10^{10^{10}}})`` are refused here in microseconds instead of being
evaluated for minutes.

The size of a value is the number of bits of the larger of its numerator and denominator, as if it were a
rational: it bounds both the magnitude and the cost of exact arithmetic on it. Floats and irrational constants
count as ``FLOAT_BITS``. Free symbols count as ``SYMBOL_BITS``, the size of the points ``symbolic.sympy_equal``
substitutes. Every node must be of a kind listed here; anything else (integrals, limits, derivatives, sums over a
symbolic range) has no cost bound at all and is refused.
"""

from __future__ import annotations

import math

MAX_BITS = 100_000  # the fast path's MAX_RESULT_BITS: 2^{99999} is fine, 2^{2^{20}} is not
MAX_TERMS = 1_000  # terms of a sum or product evaluated one by one
FLOAT_BITS = 64
SYMBOL_BITS = 7  # evaluation points are p/q with p <= 97
_EXPONENT_BITS = 60  # an exponent of more bits makes any base other than 0, 1, -1 too large


class TooCostly(ValueError):
    """The value is too large to evaluate, or the tree holds an operation whose cost has no bound."""


def check_size(expr) -> None:
    """Raise ``TooCostly`` unless every value in ``expr`` stays within ``MAX_BITS``."""
    if _size(expr, {}) > MAX_BITS:
        raise TooCostly("value too large to evaluate")


def _size(e, bound: dict) -> float:
    import sympy

    if isinstance(e, sympy.Integer):
        return max(int(e).bit_length(), 1)
    if isinstance(e, sympy.Rational):
        return max(e.p.bit_length(), e.q.bit_length(), 1)
    if isinstance(e, sympy.Float):
        _, man, exp, bc = e._mpf_ if e._mpf_[3] else (0, 0, 0, 1)
        return bc + abs(exp)
    if isinstance(e, sympy.Symbol):
        return bound.get(e, SYMBOL_BITS)
    if e.is_number and not e.args:  # pi, E, I, oo, nan, EulerGamma
        return FLOAT_BITS
    kind = _KIND.get(type(e).__name__) or _kind_by_class(e)
    if kind is None:
        return math.inf
    return kind(e, bound)


def _args_sum(e, bound) -> float:
    return sum(_size(a, bound) for a in e.args) + len(e.args)


def _bounded(e, bound) -> float:
    """Functions whose value stays small (sin, arctan, log) once their argument can be evaluated at all."""
    return FLOAT_BITS if _args_sum(e, bound) <= MAX_BITS else math.inf


def _pow(e, bound) -> float:
    base, exp = e.args
    b, x = _size(base, bound), _size(exp, bound)
    if math.isinf(b) or math.isinf(x):
        return math.inf
    if base.is_Integer and abs(int(base)) <= 1:
        return 1
    if exp.is_Rational:
        return b * max(abs(exp.p), 1) + x
    if exp.is_Float:
        return b * (abs(float(exp)) + 1) + x
    if x > _EXPONENT_BITS:
        return math.inf
    return b * 2**x + x


def _exp(e, bound) -> float:
    x = _args_sum(e, bound)
    return math.inf if x > _EXPONENT_BITS else 2**x * 1.5 + FLOAT_BITS  # e^v < 2^(1.45 v)


def _factorial(e, bound) -> float:
    (n,) = e.args[:1]
    x = _size(n, bound)
    if x > _EXPONENT_BITS:
        return math.inf
    if n.is_Integer:
        return math.lgamma(max(int(n), 0) + 1) / math.log(2) + 1  # log2(n!)
    return 2**x * max(x, 1) + FLOAT_BITS  # n! < n^n, and a non-integer gives a float


def _binomial(e, bound) -> float:
    n, k = e.args
    sn, sk = _size(n, bound), _size(k, bound)
    if math.isinf(sn) or math.isinf(sk):
        return math.inf
    factors = int(k) if k.is_Integer else (2**sk if sk <= _EXPONENT_BITS else math.inf)
    by_k = abs(factors) * (sn + 1) + FLOAT_BITS
    by_n = 2**sn if sn <= _EXPONENT_BITS else math.inf  # binom(n, k) <= 2^n
    return min(by_k, by_n)


def _sum_or_product(e, bound) -> float:
    import sympy

    body, *limits = e.args
    inner = dict(bound)
    terms = 1
    for limit in limits:
        if len(limit) != 3:
            return math.inf
        var, lo, hi = limit
        s_lo, s_hi = _size(lo, inner), _size(hi, inner)
        if s_lo > _EXPONENT_BITS or s_hi > _EXPONENT_BITS or lo.free_symbols or hi.free_symbols:
            return math.inf  # a symbolic range runs summation algorithms with no time bound
        lo_v, hi_v = lo.doit(), hi.doit()  # at most 60 bits each: cheap
        if not (isinstance(lo_v, sympy.Integer) and isinstance(hi_v, sympy.Integer)):
            return math.inf
        terms *= max(int(hi_v) - int(lo_v) + 1, 0)
        if terms > MAX_TERMS:
            return math.inf
        inner[var] = max(s_lo, s_hi)
    return max(terms, 1) * (_size(body, inner) + 1)


def _kind_by_class(e):
    import sympy
    from sympy.core.function import AppliedUndef

    if isinstance(e, AppliedUndef):  # f(x): never evaluated
        return _args_sum
    if isinstance(
        e,
        (
            sympy.functions.elementary.trigonometric.TrigonometricFunction,
            sympy.functions.elementary.trigonometric.InverseTrigonometricFunction,
            sympy.functions.elementary.hyperbolic.InverseHyperbolicFunction,
        ),
    ):
        return _bounded
    if isinstance(e, sympy.functions.elementary.hyperbolic.HyperbolicFunction):
        return _exp
    if isinstance(e, (sympy.core.relational.Relational, sympy.logic.boolalg.Boolean, sympy.Set, sympy.Tuple)):
        return _args_sum
    return None


# Arithmetic and functions whose value is at most as large as their arguments together.
_KIND = {
    **dict.fromkeys(
        "Add Mul Abs floor ceiling frac sign re im arg conjugate Max Min Mod gcd lcm UnevaluatedExpr "
        "Equality Unequality StrictLessThan StrictGreaterThan LessThan GreaterThan".split(),
        _args_sum,
    ),
    "Pow": _pow,
    "exp": _exp,
    "log": _bounded,
    "LambertW": _bounded,
    "factorial": _factorial,
    "gamma": _factorial,
    "binomial": _binomial,
    "Sum": _sum_or_product,
    "Product": _sum_or_product,
}
