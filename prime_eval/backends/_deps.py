"""Optional-dependency checks shared by the registry and the backend modules (stdlib only)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

from prime_eval.backends.base import BackendError


def missing_package_error(package: str, extra: str, backend: str) -> BackendError:
    return BackendError(
        f"the {backend!r} backend needs the Python package {package!r}, which is not installed; "
        f"install it with: pip install 'prime-suite[{extra}]'"
    )


def is_installed(package: str) -> bool:
    # Already imported (or a stand-in put there by tests; None means "blocked", as Python's import treats it).
    if package in sys.modules:
        return sys.modules[package] is not None
    # find_spec does not import the package: cheap even for vllm.
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def import_optional(package: str, extra: str, backend: str) -> ModuleType:
    """Import ``package`` or raise a BackendError that says which extra to install."""
    try:
        return importlib.import_module(package)
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] != package.split(".")[0]:
            raise  # the package is there but one of its own dependencies is broken: keep the real error
        raise missing_package_error(package, extra, backend) from exc
