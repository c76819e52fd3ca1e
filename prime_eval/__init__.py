"""prime_eval: benchmark harness, shared verifier and reward-model bench.

    import prime_eval
    results = prime_eval.evaluate("Qwen/Qwen2.5-Math-1.5B-Instruct", "math500,aime24", n=4, temperature=0.6)
    results["benchmarks"]["math500"]["metrics"]["avg"]["mean"]   # what `prime-eval run` writes to results.json

Importing this package is cheap: the harness (``evaluate``), torch, vLLM and sympy load only when used.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "evaluate"]


def __getattr__(name: str) -> Any:
    if name == "evaluate":  # prime_eval.api.evaluate, imported on first use
        from .api import evaluate

        return evaluate
    raise AttributeError(f"module 'prime_eval' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "evaluate"])
