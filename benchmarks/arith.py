"""``arith``: a synthetic, verifiable arithmetic task generated on the fly, for demos and for training tiny models.

A problem is an integer expression such as ``47 + 8 * 6 - 19`` with a worked solution (one short step per
``\\n\\n``-separated paragraph: per-digit partial products, then left-to-right sums, then ``\\boxed{answer}``).
Its gold is the exact integer, checked by the shared math verifier like any other math benchmark.

Splits: a problem belongs to ``test`` when a hash of its expression falls in one bucket out of ``TEST_ONE_IN``,
otherwise to ``train``. The split is a property of the problem, not of the seed, so no seed, size or call order
can ever put a test problem into training data. Within a split, problems are drawn from a ``random.Random``
seeded by (version, split, seed) and deduplicated, so ``size=N`` gives the first N problems of any larger size.

The difficulty knobs are :class:`Difficulty`'s fields; the benchmark definition (``definitions/arith.yaml``)
holds the default mix. ``VERSION`` changes whenever the same parameters would produce other problems, and is
recorded with the data fingerprint of every run.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass
from typing import Any

from prime_common.errors import UserError

VERSION = "1"
SPLITS = ("train", "test")
TEST_ONE_IN = 8  # 1/8 of the problem space is test-only
OPERATORS = "+-*"
# Consecutive draws without a new problem of the split before giving up: a difficulty whose split holds fewer
# distinct problems than asked for must fail with a message, not loop for ever. The test split takes about 1
# draw in 8 and train 7 in 8, so this many misses in a row means the split is all but exhausted.
_MAX_MISSES = 5000


class ArithError(UserError, ValueError):
    """Parameters that cannot produce the requested problems: a message for the user."""


@dataclass(frozen=True)
class Difficulty:
    """How hard the generated problems are. Each operand has ``min_digits..max_digits`` digits, each problem
    ``min_operands..max_operands`` operands joined by operators drawn from ``operators``; the right factor of a
    product has at most ``mul_digits`` digits (the worked solution multiplies it by each place of the left
    factor). Without ``allow_negative`` every left-to-right partial result stays >= 0. The defaults are
    arith.yaml's mix."""

    min_digits: int = 1
    max_digits: int = 1
    min_operands: int = 2
    max_operands: int = 3
    operators: str = "+-*"
    mul_digits: int = 1
    allow_negative: bool = False

    def __post_init__(self):
        if not 1 <= self.min_digits <= self.max_digits <= 9:
            raise ArithError(f"need 1 <= min_digits <= max_digits <= 9, got {self.min_digits}..{self.max_digits}")
        if not 2 <= self.min_operands <= self.max_operands <= 8:
            raise ArithError(f"need 2 <= min_operands <= max_operands <= 8, got {self.min_operands}..{self.max_operands}")  # fmt: skip
        distinct = len(set(self.operators)) == len(self.operators)
        if not self.operators or set(self.operators) - set(OPERATORS) or not distinct:
            raise ArithError(f"operators must be distinct characters of {OPERATORS!r}, got {self.operators!r}")
        if not 1 <= self.mul_digits <= 9:
            raise ArithError(f"mul_digits must be in 1..9, got {self.mul_digits}")


@dataclass(frozen=True)
class ArithProblem:
    expression: str
    answer: int
    solution: str

    @property
    def id(self) -> str:
        return "arith-" + _digest(self.expression)[:12]

    @property
    def question(self) -> str:
        return f"What is {self.expression}?"

    def row(self) -> dict[str, str]:
        """The row format of benchmark data (``fields`` in arith.yaml) and of the RL trainer's prompts."""
        return {"id": self.id, "question": self.question, "gold": str(self.answer), "solution": self.solution}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def split_of(expression: str) -> str:
    """The split a problem belongs to, from its text alone (so splits never overlap)."""
    return "test" if int(_digest(expression)[:8], 16) % TEST_ONE_IN == 0 else "train"


def _operand(rng: random.Random, digits: int) -> int:
    # 1..9 for one digit: a 0 operand makes products and sums trivial.
    return rng.randint(10 ** (digits - 1) if digits > 1 else 1, 10**digits - 1)


def _draw(rng: random.Random, d: Difficulty) -> tuple[list[int], list[str]]:
    count = rng.randint(d.min_operands, d.max_operands)
    ops = [rng.choice(d.operators) for _ in range(count - 1)]
    numbers = [_operand(rng, rng.randint(d.min_digits, d.max_digits))]
    for op in ops:
        high = min(d.max_digits, d.mul_digits) if op == "*" else d.max_digits
        numbers.append(_operand(rng, rng.randint(min(d.min_digits, high), high)))
    return numbers, ops


def _product_steps(left: int, right: int) -> tuple[list[str], int]:
    """``left * right`` one place of ``left`` at a time: 47 * 6 -> 40 * 6 = 240, 7 * 6 = 42, 240 + 42 = 282."""
    places = [int(c) * 10**k for k, c in enumerate(reversed(str(left))) if c != "0"][::-1]
    if len(places) == 1:
        return [f"{left} * {right} = {left * right}"], left * right
    partials = [p * right for p in places]
    steps = [f"{p} * {right} = {q}" for p, q in zip(places, partials)]
    total = partials[0]
    for q in partials[1:]:
        steps.append(f"{total} + {q} = {total + q}")
        total += q
    return steps, total


def solve(numbers: list[int], ops: list[str]) -> tuple[list[str], int, bool]:
    """Worked steps, value, and whether every intermediate value is >= 0. Products first (left to right within
    a run of ``*``), then sums and differences left to right, as the usual precedence rules say."""
    steps: list[str] = []
    terms, signs = [numbers[0]], []
    for op, n in zip(ops, numbers[1:]):
        if op == "*":
            more, terms[-1] = _product_steps(terms[-1], n)
            steps += more
        else:
            terms.append(n)
            signs.append(op)
    total, nonnegative = terms[0], True
    for sign, t in zip(signs, terms[1:]):
        value = total + t if sign == "+" else total - t
        steps.append(f"{total} {sign} {t} = {value}")
        total = value
        nonnegative &= value >= 0
    return steps, total, nonnegative


def make_problem(numbers: list[int], ops: list[str]) -> ArithProblem:
    expression = " ".join([str(numbers[0])] + [f"{op} {n}" for op, n in zip(ops, numbers[1:])])
    steps, value, _ = solve(numbers, ops)
    return ArithProblem(expression, value, "\n\n".join([*steps, f"\\boxed{{{value}}}"]))


def problems(split: str, size: int, seed: int = 0, difficulty: Difficulty | None = None) -> list[ArithProblem]:
    """The first ``size`` distinct problems of ``split`` for this seed and difficulty."""
    if split not in SPLITS:
        raise ArithError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    if size < 0:
        raise ArithError("size must be >= 0")
    d = difficulty or Difficulty()
    rng = random.Random(f"arith:{VERSION}:{split}:{seed}")  # str seeds are hashed with sha512: stable everywhere
    seen: set[str] = set()
    out: list[ArithProblem] = []
    misses = 0
    while len(out) < size and misses < _MAX_MISSES:
        misses += 1
        numbers, ops = _draw(rng, d)
        if not d.allow_negative and not solve(numbers, ops)[2]:
            continue
        p = make_problem(numbers, ops)
        if p.expression in seen or split_of(p.expression) != split:
            continue
        seen.add(p.expression)
        out.append(p)
        misses = 0
    if len(out) == size:
        return out
    raise ArithError(f"only {len(out)} distinct {split} problems found for {size} asked; widen the difficulty {d}")


def generate(*, split: str, size: int, seed: int = 0, **difficulty: Any) -> list[dict[str, str]]:
    """The generator a benchmark definition names (``data.generator: benchmarks.arith:generate``): rows with
    ``id``, ``question``, ``gold`` and ``solution``."""
    try:
        d = Difficulty(**difficulty)
    except TypeError as exc:
        known = ", ".join(asdict(Difficulty()))
        raise ArithError(f"unknown difficulty parameter ({exc}); known: {known}") from exc
    return [p.row() for p in problems(split, size, seed, d)]


def default_difficulty() -> Difficulty:
    """The mix in ``definitions/arith.yaml`` (what ``prime-eval run --benchmarks arith`` evaluates)."""
    from .registry import get_benchmark

    return Difficulty(**get_benchmark("arith").data.params)


def train_problems(n: int, seed: int = 0, difficulty: Difficulty | None = None) -> list[dict[str, str]]:
    """``n`` training prompts for the RL trainer and SFT: rows ``{id, question, gold, solution}``, disjoint from
    the test split, at the benchmark's default difficulty unless one is given. Render ``question`` with
    ``prime_eval.prompts.PromptTemplate(mode, "math")`` in the mode of ``get_benchmark("arith").prompt_mode``."""
    return [p.row() for p in problems("train", n, seed, difficulty or default_difficulty())]
