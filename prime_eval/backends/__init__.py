"""Generation backends by name. Importing this package is cheap: a backend's module (and torch, transformers or
vLLM with it) is imported only when ``get_backend`` builds that backend."""

from __future__ import annotations

from typing import Any

from prime_common.registry import Registry
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


# Generation backends ("backend" in configs and flags; the sandbox's backends are another thing, sandbox/backends.py).
GENERATION_BACKENDS = Registry(
    "backend",
    {
        "vllm": "prime_eval.backends.vllm_backend:VLLMBackend",
        "hf": "prime_eval.backends.hf:HFBackend",
        "openai": "prime_eval.backends.openai_server:OpenAIBackend",
        "file": "prime_eval.backends.file:FileBackend",
    },
    BackendError,
)
# What must be installed, checked before the import for a clear message; the prime-suite extra of the backend's name
# installs it.
_REQUIRES = {"vllm": ("vllm",), "hf": ("torch", "transformers")}


def available_backends() -> list[str]:
    return GENERATION_BACKENDS.names()


def get_backend(name: str, **options: Any) -> Backend:
    """Build the generation backend called ``name`` with its constructor's options, e.g.
    ``get_backend("hf", model="Qwen/Qwen2.5-0.5B", batch_size=4)``."""
    for package in _REQUIRES.get(name, ()):
        if not is_installed(package):
            raise missing_package_error(package, name, name)
    return GENERATION_BACKENDS.create(name, **options)
