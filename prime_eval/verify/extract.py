"""Finding the final answer in a whole model response (math). The only copy in prime.

Every rule here is a policy with a name in ``ExtractionConfig``; docs/verifier.md lists them with their reasons.
All scans are linear in the response length, so a 100 kB response costs microseconds per rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The box grammar is the benchmarks' (a reference solution's box is a gold).
from benchmarks.boxes import find_boxes, scan_boxes

from .extract_phrases import PHRASES, bare, final_statement, last_phrase, unbold
from .extract_prose import hedges

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
# Between two boxes of one multi-part answer: delimiters, spacing, "(a)"-style labels and "x =" are not words.
_GAP_NOISE = re.compile(
    r"\\(?:text|textbf|textrm|mathrm|mbox)\b|\\(?:quad|qquad|[,;:!() \[\]])|\((?:[a-z]|[ivx]{1,4}|\d{1,2})\)|"
    r"[A-Za-z](?:_\{?\w+\}?)?(?:\([a-z]\))?\s*=",
)
_GAP_WORD = re.compile(r"[A-Za-z]{2,}")
# A later box revises an earlier one ("but", "actually") or concludes from it ("so", "Final Answer") when the text
# between them says so: the earlier box was a step.
_REVISION = frozenset(
    "but actually wait instead however mistake wrong error correct corrected correction recheck recount again "
    "initially guess final answer therefore thus hence so conclusion summary".split()
)
BOX_GAP_MAX_CHARS = 100
BOX_GAP_MAX_WORDS = 4
# Chat-template tokens a generation may run into past its end (``<|im_start|>user``): not part of the response.
_CHAT_TAIL = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "</s>")
_ROLES = ("user", "assistant", "system")
PROFILES = ("default", "strict")


@dataclass(frozen=True)
class ExtractionConfig:
    """Where a final answer may come from, in priority order: boxes (all of the last run), an answer phrase or end
    marker (which overrides an earlier box when it states a value), a bare answer, the final statement's value.

    ``profile`` names the set: "default" (what a careful human grader reads, for ``prime-eval score`` and ``run``)
    or "strict" (:meth:`strict`: only explicit markers, for training rewards). ``last_number_fallback`` (off by
    default) takes the last number in the text when nothing else matched; it is reward-hackable (a model can end
    every response with a list of numbers), so it is never on for training.
    """

    profile: str = "default"
    boxed: bool = True
    join_adjacent_boxes: bool = True
    answer_phrases: bool = True
    later_phrase_overrides_box: bool = True
    prime_output_section: bool = True
    bare_answer: bool = True
    final_statement: bool = True
    refuse_hedges: bool = True
    last_number_fallback: bool = False

    def __post_init__(self):
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, not {self.profile!r}")

    @classmethod
    def strict(cls) -> ExtractionConfig:
        """Boxes, answer phrases and end markers only: no bare line, no value read from a final sentence. A
        training reward then pays only for an answer the policy marked as its answer."""
        return cls(profile="strict", bare_answer=False, final_statement=False)

    @classmethod
    def named(cls, profile: str) -> ExtractionConfig:
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, not {profile!r}")
        return cls.strict() if profile == "strict" else cls()


@dataclass(frozen=True)
class Extraction:
    answer: str | None
    # boxed | phrase | bare | statement | last_number | none | unterminated_think | unclosed_box | hedged
    source: str
    boxes: int = 0  # how many adjacent boxes were joined into the answer


def strip_reasoning(text: str) -> str | None:
    """Drop ``<think>...</think>``; an unterminated reasoning block means the model never answered (``None``)."""
    close = text.rfind(THINK_CLOSE)
    if close >= 0:
        return text[close + len(THINK_CLOSE) :]
    if THINK_OPEN in text:
        return None
    return text


def last_boxed(text: str) -> str | None:
    """The run of boxes ending at the last one, joined by ", " (``benchmarks.boxes.last_box`` is the last alone)."""
    run = _last_box_run(text, True)
    return ", ".join(b[2].strip() for b in run) if run else None


def _last_box_run(text: str, join_adjacent: bool, boxes: list | None = None) -> list[tuple[int, int, str]]:
    """The last box and the boxes before it that belong to the same answer: each gap between two of them is short
    and has at most four words, none saying that the later box revises the earlier one ("but", "actually")."""
    boxes = find_boxes(text) if boxes is None else boxes
    if not boxes:
        return []
    run = [boxes[-1]]
    if join_adjacent:
        for prev in reversed(boxes[:-1]):
            if not _joins(text[prev[1] : run[-1][0]]):
                break
            run.append(prev)
    return run[::-1]


def _joins(gap: str) -> bool:
    if len(gap) > BOX_GAP_MAX_CHARS:
        return False
    words = [w.lower() for w in _GAP_WORD.findall(_GAP_NOISE.sub(" ", gap))]
    return len(words) <= BOX_GAP_MAX_WORDS and not _REVISION.intersection(words)


def _hedged_run(text: str, run: list[tuple[int, int, str]]) -> bool:
    """Several different boxes offered with a hedge: "The answer is either \\boxed{3} or \\boxed{5}"."""
    if len({b[2].strip() for b in run}) < 2:
        return False
    lead = text[max(0, run[0][0] - 200) : run[0][0]]
    lead = lead[max(lead.rfind(". "), lead.rfind("\n")) + 1 :]
    gaps = " ".join(text[a[1] : b[0]] for a, b in zip(run, run[1:]))
    return hedges(lead + " " + gaps)


def strip_chat_tail(text: str) -> str:
    """Drop chat-template tokens the generation ran into after its end: "... is 2/3. <|im_start|>user"."""
    end = len(text)
    while True:
        while end > 0 and text[end - 1].isspace():
            end -= 1
        for role in _ROLES:
            if text.startswith(role, end - len(role)) and text.startswith("<|im_start|>", end - len(role) - 12):
                end -= len(role) + 12
                break
        else:
            for token in _CHAT_TAIL:
                if text.startswith(token, end - len(token)) and end >= len(token):
                    end -= len(token)
                    break
            else:
                return text[:end]


def extract_answer(response: str, config: ExtractionConfig = ExtractionConfig()) -> Extraction:
    text = strip_reasoning(response)
    if text is None:
        return Extraction(None, "unterminated_think")
    text = strip_chat_tail(text)
    if config.prime_output_section:
        out = text.rfind("[OUTPUT]")
        if out >= 0 and (config.boxed and find_boxes(text[out:]) or PHRASES.search(text[out:])):
            text = text[out:]
    if config.boxed:
        boxes, unclosed = scan_boxes(text)
        if unclosed:  # the text from an unclosed "\boxed{" to the end is inside it: the final answer is broken
            return Extraction(None, "unclosed_box")
        run = _last_box_run(text, config.join_adjacent_boxes, boxes)
        boxed = ", ".join(b[2].strip() for b in run if b[2].strip())
        if boxed:
            if config.answer_phrases and config.later_phrase_overrides_box:
                later = last_phrase(unbold(text[run[-1][1] :]), need_value=True)
                if later:  # "\boxed{255} ... The final answer is $10,455$": the later statement is final
                    return Extraction(later, "phrase")
            if config.refuse_hedges and _hedged_run(text, run):
                return Extraction(None, "hedged")
            return Extraction(boxed, "boxed", len([b for b in run if b[2].strip()]))
    plain = unbold(text)
    if config.answer_phrases:
        phrase = last_phrase(plain)
        if phrase:
            return Extraction(phrase, "phrase")
    if config.bare_answer:
        answer = bare(plain)
        if answer:
            return Extraction(answer, "bare")
    if config.final_statement:
        answer = final_statement(plain)
        if answer:
            return Extraction(answer, "statement")
    if config.last_number_fallback:
        numbers = _NUMBER.findall(plain)
        if numbers:
            return Extraction(numbers[-1].replace(",", ""), "last_number")
    return Extraction(None, "none")
