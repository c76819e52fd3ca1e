"""The slow path: expressions outside ``latex_expr``'s subset (``\\log_2 8``, ``\\sin x``, ``|x|``, ``\\lfloor``),
parsed by latex2sympy2_extended and compared by value with sympy.

Values are compared numerically (exact where sympy keeps them exact, else at 30 digits, and at random points
for free symbols) rather than with ``simplify``, whose run time is unbounded. Expressions are parsed unevaluated
and size-checked (``sympy_size``) before sympy computes anything, so a direct call is bounded too.
"""

from __future__ import annotations

import cmath
import random
import re
from functools import lru_cache
from typing import Any

from .answer_parse import nesting_depth
from .sympy_size import TooCostly, check_size

__all__ = ["GREEK", "ParseFailure", "TooCostly", "free_letters", "same_structure", "sympy_equal", "to_sympy"]

MAX_LATEX_CHARS = 600
MAX_NESTING = 40


class ParseFailure(ValueError):
    pass


_COMMAND = re.compile(r"\\([a-zA-Z]+)")
_LETTER = re.compile(r"[a-zA-Z]")
_BINDERS = re.compile(r"\\(?:sum|prod|int|oint|lim|partial)(?![a-zA-Z])|\\mathrm\{d\}|\bd[a-z]\b")
# Names that are constants or operators, not free variables.
_NOT_VARIABLES = frozenset("e i".split())
GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi rho sigma tau "
    "upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Phi Psi Omega hbar ell".split()
)


def free_letters(latex: str) -> frozenset[str] | None:
    """The variable names an expression mentions, read lexically, or ``None`` when it may bind variables
    (a sum, an integral, a limit), where a name can appear on one side only and the values still agree.

    Two answers naming different variables cannot be equal, so the symbolic parse is skipped for them.
    """
    if _BINDERS.search(latex):
        return None
    names = {m for m in _COMMAND.findall(latex) if m in GREEK}
    names.update(c for c in _LETTER.findall(_COMMAND.sub(" ", latex)) if c not in _NOT_VARIABLES)
    return frozenset(names)


@lru_cache(maxsize=16384)
def to_sympy(latex: str) -> Any:
    """A sympy object for the LaTeX string (cached: golds repeat once per sample).

    Parsed with sympy's evaluation off, so that nothing is computed before ``sympy_size`` has bounded its cost
    (``TooCostly`` otherwise); only then evaluated.
    """
    if len(latex) > MAX_LATEX_CHARS or nesting_depth(latex) > MAX_NESTING:
        raise ParseFailure("answer too long or too deeply nested for symbolic parsing")
    expr = _parse_unevaluated(latex)
    check_size(expr)
    try:
        return expr.doit()  # evaluates the parse tree: \gcd(12, 18) -> 6, 2 \cdot 3 -> 6
    except Exception:
        return expr


# Piecewise-constant functions: two such expressions can agree at every sampled point and still differ
# (floor(n/2) and floor(sqrt(n-1)) agree for n in [1, 4)), so sampling is no evidence for them.
_DISCONTINUOUS = ("floor", "ceiling", "frac", "Mod", "sign", "Piecewise", "Heaviside")


def sympy_equal(a: Any, b: Any, rel_tol: float, seed: int = 0) -> bool:
    import sympy

    if a == b:
        return True
    if not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr)):
        return False
    names_a = {s.name for s in a.free_symbols}
    names_b = {s.name for s in b.free_symbols}
    if names_a != names_b:
        return False
    if not names_a:
        return _close(a, b, rel_tol)
    if _has_discontinuity(a) or _has_discontinuity(b):
        return False  # not the same tree (checked above): random points cannot show equality
    symbols = {s.name: s for s in a.free_symbols | b.free_symbols}
    rng = random.Random(seed)
    checks = 0
    point = {}
    for _ in range(8):
        point = {sym: sympy.Rational(rng.randint(13, 97), rng.randint(11, 37)) for sym in symbols.values()}
        try:
            if not _close(a.subs(point), b.subs(point), 1e-9):
                return False
            checks += 1
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if checks >= 3:
            break
    if checks < 3:
        return False
    for name in sorted(symbols)[:4]:  # one variable negative at a time, counted only where both sides are real
        flipped = {**point, symbols[name]: -point[symbols[name]]}
        try:
            va, vb = complex(sympy.N(a.subs(flipped), 30)), complex(sympy.N(b.subs(flipped), 30))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if _real(va) and _real(vb) and not _close_complex(va, vb, 1e-9):
            return False
    return True


def _has_discontinuity(e: Any) -> bool:
    return any(type(node).__name__ in _DISCONTINUOUS for node in _nodes(e))


def _nodes(e: Any):
    yield e
    for arg in e.args:
        yield from _nodes(arg)


def _real(v: complex) -> bool:
    return abs(v.imag) <= 1e-12 * max(abs(v), 1.0)


def _close(a: Any, b: Any, rel_tol: float) -> bool:
    import sympy

    if a.is_Rational and b.is_Rational:
        return bool(a == b)
    return _close_complex(complex(sympy.N(a, 30)), complex(sympy.N(b, 30)), rel_tol)


def _close_complex(va: complex, vb: complex, rel_tol: float) -> bool:
    """Within ``rel_tol``; an undefined or infinite value (``\\infty - \\infty``, ``\\log_1 5``) equals nothing."""
    if not (cmath.isfinite(va) and cmath.isfinite(vb)):
        return False
    scale = max(abs(va), abs(vb))
    return abs(va - vb) <= rel_tol * scale if scale else True


def same_structure(g: str, p: str) -> bool:
    """Whether two expressions too costly to evaluate are the same tree up to the order of terms and factors:
    ``\\sum_{k=0}^{n-1} F_{n-k-1} F_k`` = ``\\sum_{k=0}^{n-1} F_k F_{n-k-1}``. Parsed unevaluated, never computed."""
    try:
        return _tree_key(_parse_unevaluated(g)) == _tree_key(_parse_unevaluated(p))
    except ParseFailure:
        return False


@lru_cache(maxsize=1024)
def _parse_unevaluated(latex: str) -> Any:
    if len(latex) > MAX_LATEX_CHARS or nesting_depth(latex) > MAX_NESTING:
        raise ParseFailure("answer too long or too deeply nested for symbolic parsing")
    from latex2sympy2_extended import latex2sympy
    from sympy.core.parameters import evaluate

    try:
        with evaluate(False):
            return latex2sympy(latex)
    except Exception as exc:  # the parser raises many types for malformed input
        raise ParseFailure(f"{type(exc).__name__}: {exc}") from exc


def _tree_key(e: Any) -> str:
    if not e.args:
        return f"{type(e).__name__}:{e}"
    keys = [_tree_key(a) for a in e.args]
    if type(e).__name__ in ("Add", "Mul"):
        keys.sort()
    return f"{type(e).__name__}({','.join(keys)})"
