"""Generation backends by name. Importing this package is cheap: a backend's module (and torch, transformers or
vLLM with it) is imported only when ``get_backend`` builds that backend."""

from __future__ import annotations

import difflib
import importlib
import inspect
from dataclasses import dataclass
from typing import Any

from prime_eval.backends._deps import is_installed, missing_package_error
from prime_eval.backends.base import (
    Backend,
    BackendError,
    Completion,
    OnCompletion,
    Prompt,
    Request,
    SamplingConfig,
)

__all__ = [
    "Backend",
    "BackendError",
    "Completion",
    "OnCompletion",
    "Prompt",
    "Request",
    "SamplingConfig",
    "available_backends",
    "get_backend",
]


@dataclass(frozen=True)
class _Entry:
    target: str  # "module:Class", imported on first use
    packages: tuple[str, ...] = ()  # what must be installed, checked before the import for a clear message
    extra: str = ""  # the prime-suite extra that installs them


_BACKENDS: dict[str, _Entry] = {
    "vllm": _Entry("prime_eval.backends.vllm_backend:VLLMBackend", ("vllm",), "vllm"),
    "hf": _Entry("prime_eval.backends.hf:HFBackend", ("torch", "transformers"), "hf"),
    "openai": _Entry("prime_eval.backends.openai_server:OpenAIBackend"),
    "file": _Entry("prime_eval.backends.file:FileBackend"),
}


def available_backends() -> list[str]:
    return sorted(_BACKENDS)


def get_backend(name: str, **options: Any) -> Backend:
    """Build the backend called ``name`` with its constructor's options, e.g.
    ``get_backend("hf", model="Qwen/Qwen2.5-0.5B", batch_size=4)``."""
    entry = _BACKENDS.get(name)
    if entry is None:
        close = difflib.get_close_matches(name, _BACKENDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise BackendError(f"unknown backend {name!r}{hint} (known: {', '.join(available_backends())})")
    for package in entry.packages:
        if not is_installed(package):
            raise missing_package_error(package, entry.extra, name)
    module_name, class_name = entry.target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    _check_options(name, cls, options)
    return cls(**options)


def _check_options(name: str, cls: type, options: dict[str, Any]) -> None:
    """A typo in an option (from a config file or the command line) gets a message, not a TypeError traceback."""
    params = inspect.signature(cls).parameters
    try:
        inspect.signature(cls).bind(**options)
    except TypeError as exc:
        unknown = [k for k in options if k not in params]
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, params, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        what = f"unknown option(s) {', '.join(hints)}" if hints else str(exc)
        raise BackendError(f"backend {name!r}: {what}; its options are: {', '.join(params)}") from None
