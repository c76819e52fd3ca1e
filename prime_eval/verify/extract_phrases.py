"""Answers written in words: answer phrases ("the answer is", "Final Answer: The final answer is ... I hope it is
correct", "Answer:"), the end markers of GSM8K-style solutions ("A: 21", "#### 9"), a response that is only a short
answer, and the value the final statement of the response gives ("The radius is 3 units.").

Every scan is linear in the text, or bounded by a fixed window at the end of the text.
"""

from __future__ import annotations

import re
from collections import deque

from .extract_prose import MAX_STATEMENT_CHARS, has_value, statement_value
from .math_spans import all_math_spans, math_span

# "answer is", "answers are", "final answer is", "Answer:", "final answer:" (the Minerva sentence included); not
# "our answer", "this answer" ...: "We may check our answer: $17 \cdot 44 = 748$" is a check, not the answer.
PHRASES = re.compile(
    r"(?<!our )(?<!my )(?<!this )(?<!your )(?<!that )(?<!each )\banswers?\s*(?:(?:is|are)\b|:)", re.IGNORECASE
)
# A phrase in a courtesy or a conditional is not the answer: "I hope these answers are helpful", "if the answer is 6".
_NOT_STATED = re.compile(r"\b(?:hope|if|whether|suppose|assume|assuming|unless|check|verify)\b", re.IGNORECASE)
_END_MARKER = re.compile(r"[ \t]*(?:A\s*:|####)[ \t]*(.*)")
_MARKDOWN_BOLD = re.compile(r"\*\*|__")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_SENTENCE_BREAK = re.compile(r"[.!?](?=\s)|\n")
_WORD = re.compile(r"(?<!\\)\b[a-zA-Z]{2,}\b")
_BOX_COMMANDS = ("\\boxed", "\\fbox")
BARE_MAX_CHARS = 80
# How many of the last phrases are tried, last first, for one that states an answer.
PHRASES_TRIED = 8
# The final statement is looked for in this many characters at the end, past at most this many sentences that
# state no value ("I hope it is correct.", "Let me know if you need more help!").
STATEMENT_WINDOW = 3_000
VALUELESS_SENTENCES_SKIPPED = 3


def unbold(text: str) -> str:
    """Markdown bold is emphasis, never part of an answer: "**Final Answer:** 7", "The answer is **7**."."""
    return _MARKDOWN_BOLD.sub("", text)


def last_phrase(text: str, need_value: bool = False) -> str | None:
    """The answer after the last answer phrase that states one; with ``need_value`` only a number or math counts
    (a phrase after a box overrides the box only with a value: "the answer is independent of n" does not)."""
    marker = end_marker(text)
    if marker is not None:
        return marker
    hits = deque(PHRASES.finditer(text), maxlen=PHRASES_TRIED)
    for hit in reversed(hits):
        if _not_stated(text, hit.start()):
            continue
        body = _phrase_body(text, hit.end())
        if body is None or any(cmd in body for cmd in _BOX_COMMANDS) or PHRASES.search(body):
            continue  # an unclosed box after the phrase is no answer; nor is the next phrase
        if need_value and not has_value(body):
            continue
        return body
    return None


def end_marker(text: str) -> str | None:
    """GSM8K's "#### 9" and the "A: 21" of few-shot solutions, only as the last line with content: "A:" or "####"
    earlier in a response (a vertex "A: (0,0)", a markdown heading "#### Step 2") is not an answer."""
    end = len(text.rstrip())
    line = text[text.rfind("\n", 0, end) + 1 : end]
    m = _END_MARKER.fullmatch(line)
    if m is None or not has_value(m.group(1)):
        return None
    return statement_value(m.group(1), need_value=True)


def _not_stated(text: str, pos: int) -> bool:
    """The sentence before the phrase at ``pos`` (at most 200 characters back) makes it a courtesy or a condition."""
    window = max(0, pos - 200)
    sentence_start = max(text.rfind("\n", window, pos), text.rfind(". ", window, pos), text.rfind(", ", window, pos))
    return bool(_NOT_STATED.search(text, max(sentence_start, window), pos))


def _phrase_body(text: str, pos: int) -> str | None:
    """What the phrase at ``pos`` states: a math span right after it, else the value of its sentence."""
    rest = text[pos:].lstrip(" \t:")
    rest = rest.lstrip("\n")
    line = rest.split("\n", 1)[0] if not rest.startswith(("$$", "\\[")) else rest
    span = math_span(line.lstrip(), anchored=True)
    if span:
        return span.content.strip() or None
    sentence = _sentence(line)
    if not sentence:
        return None
    return statement_value(sentence, need_value=False)


def _sentence(line: str) -> str:
    """``line`` up to its first sentence end outside math ("3.5. I hope" -> "3.5")."""
    if len(line) > MAX_STATEMENT_CHARS:
        end = _SENTENCE_END.search(line)
        return (line[: end.start()] if end else line).strip()
    spans = all_math_spans(line)
    pos = 0
    for sp in spans + [None]:
        stop = sp.start if sp else len(line)
        end = _SENTENCE_END.search(line, pos, stop)
        if end:
            return line[: end.start()].strip()
        if sp is None:
            break
        pos = sp.end
    return line.strip().rstrip(".!?").strip()


def bare(text: str) -> str | None:
    """A response that is only a short answer: one line, at most 80 characters, not a sentence of three or more
    words, and either all math or no math (a line with words around a span is a statement, read as one)."""
    s = text.strip()
    if not s or len(s) > BARE_MAX_CHARS or "\n" in s or any(cmd in s for cmd in _BOX_COMMANDS):
        return None  # a box here was empty: "\boxed{}" is no answer
    whole = math_span(s, anchored=True)
    if whole and whole.end == len(s):
        return whole.content.strip()
    if all_math_spans(s):
        return None
    if len(_WORD.findall(re.sub(r"\\[a-zA-Z]+", " ", s))) >= 3:
        return None  # a sentence, not an answer
    return s.rstrip(".").strip() or None


def final_statement(text: str) -> str | None:
    """The value the last sentence that states one gives ("The radius is 3 units." -> ``3``), looked for past at
    most three closing sentences without a value; a hedge there ("it might be 5, or 6") is no answer."""
    tail = text[-STATEMENT_WINDOW:]
    if len(text) > STATEMENT_WINDOW:
        tail = tail[tail.find("\n") + 1 :] if "\n" in tail else tail
    spans = all_math_spans(tail)
    breaks = _sentence_breaks(tail, spans)
    skipped = 0
    for start, end in reversed(list(zip([0] + breaks, breaks + [len(tail)]))):
        sentence = tail[start:end].strip(" \t\n.!?")
        if not sentence:
            continue
        if not has_value(sentence):
            skipped += 1
            if skipped > VALUELESS_SENTENCES_SKIPPED:
                return None
            continue
        return statement_value(sentence, need_value=True, last_side=True)
    return None


def _sentence_breaks(text: str, spans) -> list[int]:
    """Indices just past each sentence end outside math spans: "." "!" "?" before a space, a line break, the end of
    a display block (``$$..$$``, ``\\[..\\]``: text after one starts a new statement)."""
    breaks, pos = [], 0
    for sp in list(spans) + [None]:
        stop = sp.start if sp else len(text)
        breaks.extend(m.end() for m in _SENTENCE_BREAK.finditer(text, pos, stop))
        if sp is None:
            break
        if text.startswith(("$$", "\\["), sp.start):
            breaks.append(sp.end)
        pos = sp.end
    return breaks
