"""prime_eval: benchmark harness, shared verifier and reward-model bench.

Importing this package is cheap: torch, vLLM and sympy load only when the code that needs them runs.
"""

__version__ = "0.1.0"
