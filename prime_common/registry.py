"""Implementations chosen by name: generation backends, verifiers, reward models and sandbox backends.

A ``Registry`` maps each name to ``"module:attr"``, imported only when that name is used, so that choosing the
``file`` backend never imports vLLM and choosing ``local`` never imports the docker client. A name with a colon is
itself a ``module:attr`` path, for implementations of one's own. An unknown name or a misspelt option is one line
with a did-you-mean, never a traceback.

It lives in ``prime_common`` because the sandbox, the lowest layer, has a table too and may import nothing above it.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import UserError


class UnknownName(UserError, ValueError):
    """A name no registry table holds, or an option its implementation does not take."""


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name ``name`` is most likely a misspelling of, if any."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return close[0] if close else None


@dataclass(frozen=True)
class Registry:
    kind: str  # what the names name, as messages say it: "verifier", "reward model"
    targets: Mapping[str, str]
    error: type[Exception] = UnknownName  # a package's own error class, so its callers catch one type

    def names(self) -> list[str]:
        return sorted(self.targets)

    def load(self, name: str) -> Any:
        """The object registered as ``name`` (or at the ``module:attr`` path ``name``), imported now."""
        target = self.targets.get(name) or (name if ":" in name else None)
        if target is None:
            close = closest(name, self.targets)
            hint = f"; did you mean {close!r}?" if close else ""
            raise self.error(f"unknown {self.kind} {name!r}{hint} (known: {', '.join(self.names())})")
        module, _, attr = target.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            if name in self.targets:
                raise  # a broken installation, not a wrong name: keep the real error
            raise self.error(f"{self.kind} {name!r}: {exc}") from None

    def create(self, name: str, /, *args: Any, **options: Any) -> Any:
        """``load(name)(*args, **options)``, with options it does not take named before anything is built."""
        factory = self.load(name)
        check_options(f"{self.kind} {name!r}", factory, args, options, self.error)
        return factory(*args, **options)


def check_options(
    what: str, factory: Callable[..., Any], args: tuple, options: dict[str, Any], error: type[Exception]
) -> None:
    """A typo in an option (from a config file or the command line) gets a message, not a TypeError traceback."""
    params = inspect.signature(factory).parameters
    try:
        inspect.signature(factory).bind(*args, **options)
    except TypeError as exc:
        hints = [
            f"{key!r}" + (f" (did you mean {close!r}?)" if (close := closest(key, params)) else "")
            for key in options
            if key not in params
        ]
        detail = f"unknown option(s) {', '.join(hints)}" if hints else str(exc)
        raise error(f"{what}: {detail}; its options are: {', '.join(params)}") from None
