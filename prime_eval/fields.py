"""One field vocabulary for every command that reads rows (``score``, ``run --backend file``, ``bon``): the flags
``--id-field``, ``--response-field`` and ``--gold-field`` name the columns, with the same defaults everywhere.

The id defaults to the first of ``id``, ``problem_id`` and ``task_id`` that a row has: each command used to read
only one of them, and files written for one command are fed to the others.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ID_NAMES = ("id", "problem_id", "task_id")


@dataclass(frozen=True)
class Fields:
    """Column names; ``id=None`` means the first of ``ID_NAMES`` present in the row."""

    id: str | None = None
    response: str = "response"
    gold: str = "gold"

    def id_name(self, row: Mapping[str, Any]) -> str | None:
        """The column holding this row's id, or None when it has none."""
        if self.id is not None:
            return self.id if self.id in row else None
        return next((name for name in ID_NAMES if name in row), None)

    def id_wanted(self) -> str:
        return repr(self.id) if self.id is not None else " or ".join(map(repr, ID_NAMES))


def did_you_mean(name: str, present: Iterable[str]) -> str:
    """``" (did you mean 'score'?) (fields: a, b, score)"``: what a missing field's message ends with."""
    present = sorted(present)
    close = difflib.get_close_matches(name, present, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{hint} (fields: {', '.join(present) or 'none'})"


DEFAULT_FIELDS = Fields()
