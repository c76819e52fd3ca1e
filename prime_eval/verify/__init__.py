"""The shared verifier: one interface, used by evaluation, Best-of-N labels and training rewards, and the verifiers
by name."""

from dataclasses import fields, is_dataclass
from typing import Any

from prime_common.registry import Registry, UnknownName, check_options

from .base import Status, Verdict, Verifier
from .pool import DEFAULT_TIMEOUT_S, verify_batch

__all__ = ["Status", "Verdict", "Verifier", "DEFAULT_TIMEOUT_S", "VERIFIERS", "get_verifier", "verify_batch"]

VERIFIERS = Registry(
    "verifier", {"math": "prime_eval.verify.math:MathVerifier", "code": "prime_eval.verify.code:CodeVerifier"}
)


def get_verifier(name: str, /, **settings: Any) -> Verifier:
    """The verifier called ``name``: ``math``, ``code``, or the ``module:Class`` path of one's own.

    ``settings`` are the fields of the verifier's ``config`` (``get_verifier("math", percent="value")``), or its
    constructor's keywords when it has none; a misspelt one is a one-line ``UnknownName`` with a did-you-mean."""
    cls = VERIFIERS.load(name)
    config = next((f for f in fields(cls) if f.name == "config"), None) if is_dataclass(cls) else None
    if config is None or not callable(config.default_factory):
        return VERIFIERS.create(name, **settings)
    check_options(f"verifier {name!r}", config.default_factory, (), settings, UnknownName)
    return cls(config=config.default_factory(**settings))
