"""``UserError``: the one base of every error that is the user's to fix (a setting, a file, a name), in every
package. Each command line's ``main`` catches it once and prints its message as one line, without a traceback."""

from __future__ import annotations

import sys


class UserError(Exception):
    """A message for the user. ``exit_status`` is what the command exits with: 2 for input that is wrong as given,
    1 where the fault lies in the environment or the output folder (busy, unwritable, full): a rerun may succeed."""

    exit_status = 2


def report(prog: str, exc: UserError | OSError) -> int:
    """Print ``exc`` as one line under ``prog`` and return the exit status (an ``OSError`` is an environment
    fault: 1)."""
    print(f"{prog}: error: {exc}", file=sys.stderr)
    return exc.exit_status if isinstance(exc, UserError) else 1
