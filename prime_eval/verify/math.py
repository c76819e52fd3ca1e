"""The math verifier: extract the final answer, normalize both sides, compare by structure and value."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any

from .answer_parse import Answer, Choice, Difference, Matrix, Relation, Scalar, Seq, Text, Union, parse_answer
from .base import Status, Verdict
from .extract import ExtractionConfig, extract_answer, last_boxed
from .latex_expr import TooLarge, compile_latex, evaluate, exact_bits
from .latex_normalize import compact, normalize
from .math_compare import CompareConfig, Comparer, Undecidable, stated_value

VERSION = "1.1"
PERCENT_MODES = ("strip", "value")
# Past this a number's key keeps its spelling: decimal digits of a huge integer cost quadratic time to print.
KEY_MAX_BITS = 4_000


@dataclass(frozen=True)
class MathConfig:
    """Every policy of the math verifier; docs/verifier.md explains each.

    ``percent``: "strip" reads ``50\\%`` as 50 (never as 0.5: the 100x leniency of the Qwen and PRIME graders
    lets 0.5 pass for 50); "value" reads it as 1/2. ``strip_units`` cuts trailing unit words (``5 \\text{cm}``).
    """

    extraction: ExtractionConfig = field(default_factory=ExtractionConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)
    strip_units: bool = True
    percent: str = "strip"
    max_answer_chars: int = 2_000  # ten times the longest gold of the benchmarks (210); longer is not graded

    def __post_init__(self):
        if self.percent not in PERCENT_MODES:
            raise ValueError(f"percent must be one of {PERCENT_MODES}, not {self.percent!r}")


@lru_cache(maxsize=65536)
def prepare(answer: str, strip_units: bool = True, percent: str = "strip") -> tuple[str, Answer]:
    """Normalized string and parsed structure of one answer (cached: a gold is prepared once per run)."""
    s = normalize(answer, units=strip_units, keep_percent=percent == "value")
    if percent == "value":
        s = s.replace("\\%", "\\cdot\\frac{1}{100}")
    return s, parse_answer(s)


def canonical_key(a: Answer) -> str:
    """A string that is equal for answers with equal values in the common cases (numbers in any notation,
    sets in any order, ``x = 5`` and ``5``), for majority voting. Expressions that are equal only after algebra
    (``\\sqrt{8}`` and ``2\\sqrt{2}``) keep their own spelling."""
    if isinstance(a, Scalar):
        compiled = compile_latex(a.latex)
        if compiled is not None and not compiled.symbols:
            try:
                value = evaluate(compiled)
            except (TooLarge, ZeroDivisionError, ValueError, OverflowError):
                value = None
            if isinstance(value, Fraction) and exact_bits(value) <= KEY_MAX_BITS:
                return str(value)
        return compact(a.latex)
    if isinstance(a, Choice):
        return a.letter
    if isinstance(a, Text):
        return compact(a.text).lower()
    if isinstance(a, Seq):
        keys = [canonical_key(x) for x in a.items]
        if a.kind == "bracket":
            return a.open + ",".join(keys) + a.close
        return "{" + ",".join(sorted(set(keys))) + "}"  # a repeated element is named once
    if isinstance(a, Union):
        return "\\cup".join(sorted(canonical_key(p) for p in a.parts))
    if isinstance(a, Matrix):
        return "[" + ";".join(",".join(canonical_key(c) for c in row) for row in a.rows) + "]"
    if isinstance(a, Relation):
        value = stated_value(a)
        if value is not None:
            return canonical_key(value)
        return "".join(canonical_key(p) + (a.ops[k] if k < len(a.ops) else "") for k, p in enumerate(a.parts))
    if isinstance(a, Difference):
        return canonical_key(a.base) + "\\setminus" + canonical_key(a.removed)
    raise TypeError(type(a))


def gold_answers(reference: Any) -> list[str]:
    """The acceptable gold answers: a string (a whole solution is read by its last box), a number, or a list of
    alternatives."""
    if isinstance(reference, (list, tuple)):
        return [g for r in reference for g in gold_answers(r)]
    if isinstance(reference, bool) or reference is None:
        raise ValueError(f"reference must be a string, a number or a list, not {reference!r}")
    text = str(reference)
    if "\\boxed" in text or "\\fbox" in text:
        boxed = last_boxed(text)
        if boxed:
            return [boxed]
    return [text]


@dataclass(frozen=True)
class MathVerifier:
    config: MathConfig = field(default_factory=MathConfig)
    name: str = "math"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": VERSION, "config": asdict(self.config)}

    def verify(self, response: str, reference: Any, **meta: Any) -> Verdict:
        if not isinstance(response, str):
            raise TypeError(f"response must be a string, not {type(response).__name__}")
        golds = gold_answers(reference)
        extraction = extract_answer(response, self.config.extraction)
        if extraction.answer is None:
            return Verdict.failed(Status.NO_ANSWER, f"no final answer found ({extraction.source})", gold=golds[0])
        if len(extraction.answer) > self.config.max_answer_chars:
            # Too long to parse, but a long gold (a 5,000-digit integer) is still met by its own spelling.
            details = {"extracted": extraction.answer[:200], "source": extraction.source}
            spelled = compact(extraction.answer)
            if any(compact(g) == spelled for g in golds):
                return Verdict(True, 1.0, Status.OK, spelled, {**details, "gold": golds[0], "method": "string"})
            reason = f"answer longer than {self.config.max_answer_chars} characters: not graded"
            return Verdict(False, 0.0, Status.WRONG, None, {**details, "reason": reason, "gold": golds[0]})
        pred_norm, pred = prepare(extraction.answer, self.config.strip_units, self.config.percent)
        details: dict[str, Any] = {
            "extracted": extraction.answer,
            "source": extraction.source,
            "normalized": pred_norm,
        }
        if not pred_norm or pred == Seq("list", ()):  # "", or only separators: "\boxed{}, \boxed{}"
            return Verdict(False, 0.0, Status.NO_ANSWER, None, {**details, "reason": "empty answer"})
        comparer = Comparer(self.config.compare)
        try:
            inconsistent = isinstance(pred, Relation) and not comparer.consistent_chain(pred)
        except Undecidable:
            inconsistent = True
        if inconsistent:  # "x = 1 = 2 = 5" states no answer, whatever its last part is
            return Verdict(
                False, 0.0, Status.NO_ANSWER, None, {**details, "reason": "inconsistent chain of equalities"}
            )
        if extraction.boxes > 1 and isinstance(pred, Seq) and pred.items and _all_equal(comparer, pred.items):
            pred = pred.items[0]  # "\boxed{15\frac{39}{40}}, or \boxed{\frac{639}{40}}": one value, twice
        key = canonical_key(pred)
        undecided = None
        for gold_text in golds:
            gold_norm, gold = prepare(gold_text, self.config.strip_units, self.config.percent)
            try:
                if comparer.equal(gold, pred):
                    return Verdict(
                        True, 1.0, Status.OK, key, {**details, "gold": gold_norm, "method": comparer.method}
                    )
            except Undecidable as exc:
                undecided = str(exc)
        if undecided:  # not shown equal within the budget: wrong, never an error a caller must handle
            return Verdict(False, 0.0, Status.WRONG, key, {**details, "gold": golds[0], "reason": undecided})
        return Verdict(False, 0.0, Status.WRONG, key, {**details, "gold": golds[0]})

    def equivalent(self, gold: str, pred: str) -> bool:
        """Compare two bare answers (no extraction): ``equivalent("\\frac12", "0.5")``."""
        _, g = prepare(gold, self.config.strip_units, self.config.percent)
        if len(pred) > self.config.max_answer_chars:
            return compact(pred) == compact(gold)
        _, p = prepare(pred, self.config.strip_units, self.config.percent)
        return Comparer(self.config.compare).equal(g, p)


def _all_equal(comparer: Comparer, items: tuple) -> bool:
    try:
        return all(comparer.equal(items[0], x) for x in items[1:])
    except Undecidable:
        return False


def answer_key(answer: str, config: MathConfig | None = None) -> str:
    """The majority-voting key of a bare answer."""
    config = config or MathConfig()
    return canonical_key(prepare(answer, config.strip_units, config.percent)[1])
