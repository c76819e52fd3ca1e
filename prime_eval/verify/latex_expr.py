"""Fast path for the arithmetic most answers use: translate a LaTeX subset into Python syntax, let ``ast`` parse
it, and evaluate it exactly (``Fraction``) where possible, else in complex floating point.

This is not a LaTeX parser: it rewrites a handful of commands (``\\frac``, ``\\sqrt``, ``^``, ``\\cdot``, ``\\pi``,
a few functions) and gives up (``None``) on anything else, which then goes to latex2sympy2_extended in
``symbolic.py``. It exists because the ANTLR-based parser costs 1-40 ms per string while this costs tens of
microseconds, and integers, fractions, radicals and short polynomials are almost every benchmark answer.
"""

from __future__ import annotations

import ast
import cmath
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from benchmarks.boxes import match_brace

Value = Fraction | complex

MAX_EXPONENT = 10_000
MAX_RESULT_BITS = 100_000
MAX_FACTORIAL = 2_000
MAX_SOURCE_CHARS = 400


class TooLarge(ValueError):
    """The exact value would be astronomically large (a power tower): refuse instead of hanging."""


class Unsupported(ValueError):
    """Outside the fast subset; the caller falls back to sympy."""


_FUNCS = {
    "sin": cmath.sin, "cos": cmath.cos, "tan": cmath.tan, "cot": lambda z: 1 / cmath.tan(z),
    "sec": lambda z: 1 / cmath.cos(z), "csc": lambda z: 1 / cmath.sin(z), "arcsin": cmath.asin,
    "arccos": cmath.acos, "arctan": cmath.atan, "sinh": cmath.sinh, "cosh": cmath.cosh, "tanh": cmath.tanh,
    "ln": cmath.log, "exp": cmath.exp,
}  # fmt: skip
# "\sin x", "\sin^2 x", "\cos 2\theta", "\ln{x}": a function applied to the next atom, without parentheses.
_BARE_CALL = re.compile(
    r"\\(" + "|".join(sorted(_FUNCS, key=len, reverse=True)) + r")(?![a-zA-Z])\s*"
    r"(?:\^\s*(\{[^{}]*\}|\d))?\s*(\{[^{}]*\}|\d*\.?\d*\\?[a-zA-Z]+(?:_\{?\w+\}?)?|\d+(?:\.\d+)?)"
)
_GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi rho sigma tau "
    "upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Phi Psi Omega".split()
)
_BRACE_CMDS = ("\\frac", "\\sqrt", "\\binom")
_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+)|(?P<cmd>\\[a-zA-Z]+)|(?P<var>[a-zA-Z](?:_(?:\{\w+\}|\w))?)"
    r"|(?P<op>\*\*|[-+*/(){}^!,])|(?P<bad>\S))"
)


@dataclass(frozen=True)
class Compiled:
    code: object  # a code object from compile()
    symbols: frozenset[str]
    has_decimal: bool


def _rewrite_brace_commands(s: str) -> str:
    """``\\frac{a}{b}`` -> ``((a)/(b))``, ``\\sqrt[n]{a}`` -> ``((a)^(1/(n)))``, ``\\binom{a}{b}`` -> a call."""
    out = []
    i = 0
    while True:
        hits = [(p, c) for c in _BRACE_CMDS if (p := s.find(c, i)) >= 0]
        if not hits:
            out.append(s[i:])
            return "".join(out)
        pos, cmd = min(hits)
        out.append(s[i:pos])
        j = pos + len(cmd)
        index = None
        if cmd == "\\sqrt" and j < len(s) and s[j] == "[":
            close = s.find("]", j)
            if close < 0:
                raise Unsupported("unclosed root index")
            index, j = s[j + 1 : close], close + 1
        args = []
        for _ in range(2 if cmd != "\\sqrt" else 1):
            while j < len(s) and s[j] == " ":
                j += 1
            if j >= len(s) or s[j] != "{":
                raise Unsupported(f"{cmd} without braced argument")
            end = match_brace(s, j)
            if end < 0:
                raise Unsupported("unbalanced braces")
            args.append(_rewrite_brace_commands(s[j + 1 : end]))
            j = end + 1
        if cmd == "\\frac":
            out.append(f"(({args[0]})/({args[1]}))")
        elif cmd == "\\binom":
            out.append(f"\\PRIMEbinom(({args[0]}),({args[1]}))")
        else:  # a root is a power, so that exact roots of rationals stay exact in _pow
            out.append(f"(({args[0]})^(1/({_rewrite_brace_commands(index) if index else 2})))")
        i = j


def _bare_call(m: re.Match) -> str:
    name, power, arg = m.group(1), m.group(2), m.group(3)
    if arg.startswith("{"):
        arg = arg[1:-1]
    call = f"\\{name}({arg})"
    return f"({call})^{{{power.strip('{}')}}}" if power else call


def _abs_bars(s: str) -> str:
    """``|x|`` -> a call; only one pair of bars is read (nested bars are ambiguous in LaTeX)."""
    if "|" not in s:
        return s
    if s.count("|") != 2:
        raise Unsupported("nested or unpaired absolute value bars")
    head, inner, tail = s.split("|")
    return f"{head}\\PRIMEabs({inner}){tail}"


def to_python(latex: str) -> tuple[str, frozenset[str], bool]:
    """Python source for a LaTeX expression in the fast subset, its free symbols and whether it has a decimal."""
    if len(latex) > MAX_SOURCE_CHARS:
        raise Unsupported("too long for the fast path")
    s = _abs_bars(_BARE_CALL.sub(_bare_call, latex))
    s = _rewrite_brace_commands(s)
    out: list[str] = []
    symbols: set[str] = set()
    has_decimal = False
    prev = ""  # kind of the previous token: "atom" (value-like), "func", "op", ""
    for m in _TOKEN.finditer(s):
        kind = m.lastgroup
        tok = m.group(kind)
        if kind == "bad":
            raise Unsupported(f"character {tok!r}")
        if kind == "cmd":
            name = tok[1:]
            if name.startswith("PRIME"):  # a function call written by _rewrite_brace_commands
                out.append("*" if prev == "atom" else "")
                out.append(name[5:])
                prev = "func"
                continue
            if name in ("cdot", "times"):
                out.append("*")
                prev = "op"
                continue
            if name == "div":
                out.append("/")
                prev = "op"
                continue
            if name == "pi":
                tok, kind = "pi", "atom"
            elif name in _GREEK:
                tok, kind = f"g_{name}", "atom"
                symbols.add(tok)
            elif name in _FUNCS:
                tok, kind = name, "func"
            else:
                raise Unsupported(f"command \\{name}")
        elif kind == "num":
            has_decimal |= "." in tok or "e" in tok.lower()
            tok = re.sub(r"^0+(?=\d)", "", tok)  # "073" is an AIME answer, not a syntax error
            kind = "atom"
        elif kind == "var":
            name = re.sub(r"[{}]", "", tok)
            if name == "e":
                tok = "E"
            elif name == "i":
                tok = "I"
            else:
                tok = "v_" + name
                symbols.add(tok)
            kind = "atom"
        if kind == "op":
            if tok == "!":
                out.append("!")
                prev = "atom"
                continue
            tok = {"^": "**", "{": "(", "}": ")"}.get(tok, tok)
            if tok == "(" and prev == "atom":
                out.append("*")
            out.append(tok)
            prev = "atom" if tok == ")" else ("open" if tok == "(" else "op")
            continue
        if prev == "atom":
            out.append("*")  # implicit multiplication: 2x, 2\sqrt{3}, (a)(b), xy
        if kind == "func" and m.end() < len(s) and not s[m.end() :].lstrip().startswith(("(", "{")):
            raise Unsupported(f"function {tok} without parentheses")
        out.append(tok)
        prev = kind
    source = "".join(out)
    # LaTeX binds "x^23" as x^2 * 3 and "2^{10}!" is rare: only a single-token exponent is accepted bare.
    source = re.sub(r"\*\*(\d)(\d)", r"**\1*\2", source)
    source = re.sub(r"(\d+)!", r"fact(\1)", source)
    if "!" in source:
        raise Unsupported("factorial of a non-integer")
    return source, frozenset(symbols), has_decimal


@lru_cache(maxsize=65536)
def compile_latex(latex: str) -> Compiled | None:
    """The compiled expression, or ``None`` when it is outside the fast subset."""
    try:
        source, symbols, has_decimal = to_python(latex)
        tree = ast.parse(source, mode="eval")
    except (Unsupported, SyntaxError, RecursionError, MemoryError, ValueError):
        return None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            return None
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _CALLS):
            return None
    tree = ast.fix_missing_locations(_LiftConstants().visit(tree))
    return Compiled(compile(tree, "<answer>", "eval"), symbols, has_decimal)


_ALLOWED_NODES = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Call, ast.Add, ast.Sub,
    ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd,
)  # fmt: skip


def _exact(x: Value) -> bool:
    return isinstance(x, Fraction)


class _Num:
    """Arithmetic on ``Fraction`` kept exact, falling back to complex floats, with size guards."""

    __slots__ = ("v",)

    def __init__(self, v: Value):
        self.v = v

    def _bin(self, other, op):
        o = other.v if isinstance(other, _Num) else _lift(other).v
        a, b = self.v, o
        if _exact(a) and _exact(b):
            # The numerator and denominator of a sum, product or quotient have at most the two sides' bits together.
            if exact_bits(a) + exact_bits(b) > 2 * MAX_RESULT_BITS:
                raise TooLarge("exact value too large")
            return _Num(op(a, b))
        try:
            return _Num(op(complex(a), complex(b)))
        except OverflowError as exc:  # an exact side beyond the float range
            raise TooLarge(str(exc)) from exc

    def __add__(self, o):
        return self._bin(o, lambda a, b: a + b)

    def __radd__(self, o):
        return _lift(o) + self

    def __sub__(self, o):
        return self._bin(o, lambda a, b: a - b)

    def __rsub__(self, o):
        return _lift(o) - self

    def __mul__(self, o):
        return self._bin(o, lambda a, b: a * b)

    def __rmul__(self, o):
        return _lift(o) * self

    def __truediv__(self, o):
        return self._bin(o, lambda a, b: a / b)

    def __rtruediv__(self, o):
        return _lift(o) / self

    def __neg__(self):
        return _Num(-self.v)

    def __pos__(self):
        return self

    def __pow__(self, o):
        return _pow(self.v, (o if isinstance(o, _Num) else _lift(o)).v)

    def __rpow__(self, o):
        return _lift(o) ** self


def _lift(x) -> _Num:
    if isinstance(x, _Num):
        return x
    if isinstance(x, int):
        return _Num(Fraction(x))
    if isinstance(x, float):
        return _Num(Fraction(x) if x.is_integer() else complex(x))
    if isinstance(x, str):  # decimal literal: keep it exact
        return _Num(Fraction(x))
    return _Num(complex(x))


def exact_bits(x: Fraction) -> int:
    """Bits of the larger of numerator and denominator: the cost and, for integers, the magnitude of ``x``."""
    return max(x.numerator.bit_length(), x.denominator.bit_length(), 1)


def _pow(base: Value, exp: Value) -> _Num:
    if _exact(base) and _exact(exp) and exp.denominator == 1:
        e = exp.numerator
        bits = exact_bits(base)
        if abs(e) > MAX_EXPONENT or abs(e) * bits > MAX_RESULT_BITS:
            if abs(base) in (0, 1):
                return _Num(base**e if base != 0 or e > 0 else Fraction(0))
            raise TooLarge("power too large to evaluate exactly")
        if base == 0 and e < 0:
            raise ZeroDivisionError
        return _Num(base**e)
    if _exact(base) and _exact(exp) and base >= 0:
        root = _exact_root(base, exp.denominator)
        if root is not None:
            return _pow(root, Fraction(exp.numerator))
    try:
        return _Num(complex(base) ** complex(exp))
    except OverflowError as exc:
        raise TooLarge(str(exc)) from exc


def _exact_root(x: Fraction, n: int) -> Fraction | None:
    if n > 64:
        return None
    num, den = _int_root(x.numerator, n), _int_root(x.denominator, n)
    return Fraction(num, den) if num is not None and den is not None else None


def _int_root(k: int, n: int) -> int | None:
    """The integer ``r`` with ``r**n == k``, or ``None``: integer Newton iteration, exact at any size (a float
    estimate overflows past 1e308 and is inexact past 2**53)."""
    if k < 2:
        return k
    r = 1 << -(-k.bit_length() // n)  # >= the real root
    while True:
        nxt = ((n - 1) * r + k // r ** (n - 1)) // n
        if nxt >= r:
            break
        r = nxt
    return r if r**n == k else None


def _fact(n: _Num) -> _Num:
    if not (_exact(n.v) and n.v.denominator == 1 and 0 <= n.v <= MAX_FACTORIAL):
        raise TooLarge("factorial out of range")
    return _Num(Fraction(math.factorial(int(n.v))))


def _binom(n: _Num, k: _Num) -> _Num:
    """n choose k for a whole k, as the falling factorial n (n-1) ... (n-k+1) / k!, so n may be any value."""
    if not (_exact(k.v) and k.v.denominator == 1 and 0 <= k.v <= MAX_FACTORIAL):
        raise Unsupported("binomial with a non-integer k")
    if _exact(n.v) and int(k.v) * (exact_bits(n.v) + 1) > MAX_RESULT_BITS:
        raise TooLarge("binomial too large to evaluate exactly")  # k factors of n's size each
    result = _Num(Fraction(1))
    for j in range(int(k.v)):
        result = result * (n - _Num(Fraction(j)))
    return result / _Num(Fraction(math.factorial(int(k.v))))


def _abs(x: _Num) -> _Num:
    return _Num(abs(x.v) if _exact(x.v) else complex(abs(x.v)))


def _wrap(f):
    return lambda x: _Num(f(complex(x.v)))


_CALLS = {"fact": _fact, "binom": _binom, "abs": _abs, **{k: _wrap(f) for k, f in _FUNCS.items()}}
_CONSTANTS = {"pi": _Num(complex(math.pi)), "E": _Num(complex(math.e)), "I": _Num(1j)}


def evaluate(compiled: Compiled, env: dict[str, Value] | None = None) -> Value:
    """The value of the expression; symbols take their values from ``env``.

    Raises ``TooLarge``, ``ZeroDivisionError``, ``ValueError``, ``OverflowError`` on values it cannot produce.
    """
    scope = {**_CALLS, **_CONSTANTS}
    if env:
        scope.update({k: _Num(v) for k, v in env.items()})
    result = eval(compiled.code, {"__builtins__": {}}, scope)  # noqa: S307 - whitelisted AST only
    return _lift(result).v


# Number literals become ``num("...")`` calls so that "0.1" stays exactly 1/10 instead of a binary float.
class _LiftConstants(ast.NodeTransformer):
    def visit_Constant(self, node: ast.Constant):
        return ast.Call(func=ast.Name(id="num", ctx=ast.Load()), args=[ast.Constant(repr(node.value))], keywords=[])


_CALLS["num"] = lambda text: _Num(Fraction(text))
