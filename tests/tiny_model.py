"""A tiny random causal LM plus a locally trained tokenizer, built from scratch so tests never touch the Hub.

``build_tiny_model(path)`` writes a directory that ``AutoTokenizer.from_pretrained`` and
``AutoModelForCausalLM.from_pretrained`` load offline: a 2-layer Qwen2-shaped model (hidden 32) with random weights
and a byte-level BPE tokenizer trained on a few lines of math text, with a ChatML-like chat template (the
tokenizer recipe is ``prime_train.tiny.train_tokenizer``, shared with the demo's model).
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prime_train import tiny
from prime_train.tiny import BOS, train_tokenizer

__all__ = ["BOS", "build_tiny_model", "build_tiny_model_head_dim_64", "one_torch_thread", "tiny_model_dir_for"]

_CORPUS = [
    "Find the value of $x$ such that $2x + 3 = 11$. The answer is $\\boxed{4}$.",
    "Let $f(x) = x^2 - 4x + 4$. Then $f(2) = 0$, so the minimum is \\boxed{0}.",
    "Compute $\\frac{1}{2} + \\frac{1}{3} = \\frac{5}{6}$ and simplify $\\sqrt{16} = 4$.",
    "The sum of the first $n$ positive integers is $\\frac{n(n+1)}{2}$.",
    "Solve for $y$: $3y - 7 = 2y + 5$, hence $y = 12$. Final answer: 12.",
    "If a triangle has sides 3, 4 and 5, its area is 6 and its perimeter is 12.",
    "How many primes are less than 20? They are 2, 3, 5, 7, 11, 13, 17, 19: there are 8.",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))",
    "<think>First, expand the product. Then collect like terms.</think> The result is $x^2 + 2x + 1$.",
    string.printable,
]


def _build_tokenizer(vocab_size: int):
    # Byte-level BPE whose alphabet is only the corpus' characters (all printable ASCII): any generated token
    # sequence decodes to readable ASCII, which keeps stop-string tests simple. Digits may merge (unlike the demo
    # model's tokenizer), as in most real vocabularies.
    return train_tokenizer(_CORPUS * 4, vocab_size, qwen2_pretokenizer=False, model_max_length=512)


def build_tiny_model(path: str | Path, *, seed: int = 0, vocab_size: int = 400) -> Path:
    """Write a tiny random Qwen2-shaped model and its tokenizer into ``path``; returns the path."""
    return tiny.build_tiny_model(
        path, seed=seed, hidden=32, layers=2, heads=2, kv_heads=1, intermediate=64, max_positions=512,
        # Wider than the usual 0.02 so logits are spread out: greedy picks are robust to float rounding and
        # sampling at temperature 1 still varies.
        initializer_range=0.2, tokenizer=_build_tokenizer(vocab_size),
    )  # fmt: skip


def build_tiny_model_head_dim_64(path: str | Path, *, seed: int = 0, vocab_size: int = 400) -> Path:
    """``build_tiny_model`` with attention heads of 64 dimensions (hidden 128, 2 heads): vLLM's CPU attention
    kernel refuses the 16-dimension heads of the default tiny model."""
    return tiny.build_tiny_model(
        path, seed=seed, hidden=128, layers=2, heads=2, kv_heads=1, intermediate=256, max_positions=512,
        initializer_range=0.2, tokenizer=_build_tokenizer(vocab_size),
    )  # fmt: skip


def tiny_model_dir_for(tmp_path_factory) -> Path:
    """The session's tiny model, built once under pytest's base temp dir and shared by every test module."""
    path = tmp_path_factory.getbasetemp() / "tiny-model"
    if not (path / "config.json").exists():
        build_tiny_model(path)
    return path


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Tiny models run ~10x faster on one intra-op thread than on two busy cores (thread handoff dominates)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
