"""How a problem becomes a prompt: PRIME's evaluation prompts, the model's own chat template, or plain text.

PRIME's evaluation (``eval/system_prompt.md`` in its repository) sends the action-centric system prompt with
*literal* backslash-n sequences instead of newlines; ``prime`` mode reproduces that quirk, ``prime_newlines``
sends the same prompt with real newlines.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from benchmarks.registry import PROMPT_MODES as MODES
from prime_eval.backends.base import Prompt

PRIME_SYSTEM = (
    "When tackling complex reasoning tasks, you have access to the following actions. Use them as needed to "
    "progress through your thought process.\n\n[ASSESS]\n\n[ADVANCE]\n\n[VERIFY]\n\n[SIMPLIFY]\n\n[SYNTHESIZE]\n\n"
    "[PIVOT]\n\n[OUTPUT]\n\nYou should strictly follow the format below:\n\n[ACTION NAME]\n\n# Your action step 1\n\n"
    "# Your action step 2\n\n# Your action step 3\n\n...\n\nNext action: [NEXT ACTION NAME]\n"
)
SUFFIXES = {
    "math": "\n\nPresent the answer in LaTex format: \\boxed{Your answer}",
    "code": "\n\nWrite Python code to solve the problem. Present the code in \n```python\nYour code\n```\nat the end.",
}


@dataclass(frozen=True)
class PromptTemplate:
    mode: str
    kind: str  # "math" | "code": which suffix

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"prompt mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.kind not in SUFFIXES:
            raise ValueError(f"prompt kind must be one of {', '.join(SUFFIXES)}")

    @property
    def system(self) -> str | None:
        if self.mode == "prime":
            return PRIME_SYSTEM.replace("\n", "\\n")
        if self.mode == "prime_newlines":
            return PRIME_SYSTEM
        return None

    def render(self, question: str) -> Prompt:
        user = question + SUFFIXES[self.kind]
        if self.mode == "plain":
            return user
        messages = [{"role": "user", "content": user}]
        if self.system is not None:
            messages.insert(0, {"role": "system", "content": self.system})
        return messages

    def fingerprint(self) -> str:
        """A hash of everything that shapes the prompt text, recorded with the results."""
        spec = {"mode": self.mode, "system": self.system, "suffix": SUFFIXES[self.kind]}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
