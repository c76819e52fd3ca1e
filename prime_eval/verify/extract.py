"""Finding the final answer in a whole model response (math). The only copy in prime.

Every rule here is a policy with a name in ``ExtractionConfig``; docs/verifier.md lists them with their reasons.
All scans are linear in the response length, so a 100 kB response costs microseconds per rule.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from .math_spans import math_span

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
_BOX_COMMANDS = ("\\boxed", "\\fbox")
# Text allowed between two boxes for them to count as one multi-part answer: "\boxed{2} and \boxed{3}".
_BOX_JOINER = re.compile(r"^[\s$,;.]*(?:and|or|,|;)?[\s$,;.]*$", re.IGNORECASE)
_FINAL_ANSWER_IS = re.compile(r"final answer is", re.IGNORECASE)
_I_HOPE = re.compile(r"I hope it is correct", re.IGNORECASE)
_PHRASES = re.compile(r"(?:final answer is|the answer is|answers are|final answer\s*:|answer\s*:)", re.IGNORECASE)
_BOX_START = re.compile(r"\\(?:boxed|fbox)")
_BARE_BOX_TOKEN = re.compile(r"[^\s$]+")
_MARKDOWN_BOLD = re.compile(r"\*\*|__")
_SENTENCE_END = re.compile(r"\.(?:\s|$)")
_WORD = re.compile(r"(?<!\\)\b[a-zA-Z]{2,}\b")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
BARE_MAX_CHARS = 80


@dataclass(frozen=True)
class ExtractionConfig:
    """Where a final answer may come from, in priority order: boxed, answer phrase, bare answer.

    ``last_number_fallback`` (off by default) takes the last number in the text when nothing else matched; it is
    reward-hackable (a model can end every response with a list of numbers), so it is never on for training.
    """

    boxed: bool = True
    join_adjacent_boxes: bool = True
    answer_phrases: bool = True
    prime_output_section: bool = True
    bare_answer: bool = True
    last_number_fallback: bool = False


@dataclass(frozen=True)
class Extraction:
    answer: str | None
    source: str  # boxed | phrase | bare | last_number | none | unterminated_think | unclosed_box
    boxes: int = 0  # how many adjacent boxes were joined into the answer


def strip_reasoning(text: str) -> str | None:
    """Drop ``<think>...</think>``; an unterminated reasoning block means the model never answered (``None``)."""
    close = text.rfind(THINK_CLOSE)
    if close >= 0:
        return text[close + len(THINK_CLOSE) :]
    if THINK_OPEN in text:
        return None
    return text


def match_brace(text: str, open_pos: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``open_pos``, or -1. Escaped braces ``\\{`` do not count."""
    depth = 0
    i = open_pos
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def brace_partners(text: str) -> dict[int, int]:
    """Index of each ``{`` -> index of the ``}`` closing it, for every brace that closes, in one pass.
    ``brace_partners(t).get(k, -1) == match_brace(t, k)`` for every unescaped ``{`` at ``k``."""
    partners: dict[int, int] = {}
    stack: list[int] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            stack.append(i)
        elif c == "}" and stack:
            partners[stack.pop()] = i
        i += 1
    return partners


def scan_boxes(text: str) -> tuple[list[tuple[int, int, str]], bool]:
    """All ``\\boxed{...}``/``\\fbox{...}`` (and ``\\boxed 5``) as (start, end, content), in order, and whether the
    scan stopped at an unclosed box. One left-to-right pass: each character is read a bounded number of times."""
    boxes = []
    n = len(text)
    i = 0
    while True:
        m = _BOX_START.search(text, i)
        if m is None:
            return boxes, False
        pos, j = m.start(), m.end()
        while j < n and text[j] == " ":
            j += 1
        if j < n and text[j] == "{":
            end = match_brace(text, j)
            if end < 0:
                return boxes, True  # an unclosed box is not an answer
            boxes.append((pos, end + 1, text[j + 1 : end]))
            i = end + 1
        elif j > m.end():  # "\boxed 5": one token up to whitespace or "$"
            token = _BARE_BOX_TOKEN.match(text, j)
            if token:
                boxes.append((pos, token.end(), token.group(0)))
            i = token.end() if token else j
        else:
            i = j


def find_boxes(text: str) -> list[tuple[int, int, str]]:
    """The closed boxes of ``text`` (see :func:`scan_boxes`)."""
    return scan_boxes(text)[0]


def last_boxed(text: str, join_adjacent: bool = True) -> str | None:
    """The last box's content; with ``join_adjacent`` the run of boxes ending there, joined by ", "."""
    run = _last_box_run(text, join_adjacent)
    return ", ".join(b[2].strip() for b in run) if run else None


def _last_box_run(text: str, join_adjacent: bool, boxes: list | None = None) -> list[tuple[int, int, str]]:
    boxes = find_boxes(text) if boxes is None else boxes
    if not boxes:
        return []
    run = [boxes[-1]]
    if join_adjacent:
        for prev in reversed(boxes[:-1]):
            gap = text[prev[1] : run[-1][0]]
            if len(gap) > 12 or not _BOX_JOINER.match(gap):
                break
            run.append(prev)
    return run[::-1]


def _minerva(text: str) -> str | None:
    """The X of Minerva's "final answer is X. I hope it is correct": from the first "final answer is" that has an
    "I hope it is correct" after it, up to the first such sentence after it (found by two linear scans)."""
    phrase = _FINAL_ANSWER_IS.search(text)
    if phrase is None:
        return None
    hope = _I_HOPE.search(text, phrase.end())
    if hope is None:
        return None
    body = text[phrase.end() : hope.start()].strip()
    if body.endswith("."):
        body = body[:-1].rstrip()
    return _first_math_or_all(body) if body else None


def _after_phrase(text: str) -> str | None:
    minerva = _minerva(text)
    if minerva is not None:
        return minerva
    hits = deque(_PHRASES.finditer(text), maxlen=1)  # the last phrase, without keeping every match
    if not hits:
        return None
    last = hits[0]
    rest = text[last.end() :].lstrip(" \t:")
    rest = rest.lstrip("\n")
    line = rest.split("\n", 1)[0] if not rest.startswith(("$$", "\\[")) else rest
    span = math_span(line.lstrip(), anchored=True)
    if span:
        return span.content.strip()
    end = _SENTENCE_END.search(line)
    candidate = (line[: end.start()] if end else line).strip()
    return candidate.rstrip(".").strip() or None


def _first_math_or_all(s: str) -> str:
    span = math_span(s)
    return (span.content if span else s).strip()


def _bare(text: str) -> str | None:
    s = text.strip()
    if not s or len(s) > BARE_MAX_CHARS or "\n" in s:
        return None
    whole = math_span(s, anchored=True)
    if whole and whole.end == len(s):
        return whole.content.strip()
    if len(_WORD.findall(re.sub(r"\\[a-zA-Z]+", " ", s))) >= 3:
        return None  # a sentence, not an answer
    return s.rstrip(".").strip() or None


def extract_answer(response: str, config: ExtractionConfig = ExtractionConfig()) -> Extraction:
    text = strip_reasoning(response)
    if text is None:
        return Extraction(None, "unterminated_think")
    if config.prime_output_section:
        out = text.rfind("[OUTPUT]")
        if out >= 0 and (config.boxed and find_boxes(text[out:]) or _PHRASES.search(text[out:])):
            text = text[out:]
    if config.boxed:
        boxes, unclosed = scan_boxes(text)
        if unclosed:  # the text from an unclosed "\boxed{" to the end is inside it: the final answer is broken
            return Extraction(None, "unclosed_box")
        run = _last_box_run(text, config.join_adjacent_boxes, boxes)
        boxed = ", ".join(b[2].strip() for b in run)
        if boxed.strip():
            return Extraction(boxed.strip(), "boxed", len(run))
    plain = _MARKDOWN_BOLD.sub("", text)  # "**Final Answer:** 7"
    if config.answer_phrases:
        phrase = _after_phrase(plain)
        if phrase and not any(cmd in phrase for cmd in _BOX_COMMANDS):  # an unclosed box is no answer
            return Extraction(phrase, "phrase")
    if config.bare_answer:
        bare = _bare(plain)
        if bare:
            return Extraction(bare, "bare")
    if config.last_number_fallback:
        numbers = _NUMBER.findall(plain)
        if numbers:
            return Extraction(numbers[-1].replace(",", ""), "last_number")
    return Extraction(None, "none")
