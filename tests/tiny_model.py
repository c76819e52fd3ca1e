"""A tiny random causal LM plus a locally trained tokenizer, built from scratch so tests never touch the Hub.

``build_tiny_model(path)`` writes a directory that ``AutoTokenizer.from_pretrained`` and
``AutoModelForCausalLM.from_pretrained`` load offline: a 2-layer Qwen2-shaped model (hidden 32) with random weights
and a byte-level BPE tokenizer trained on a few lines of math text, with a ChatML-like chat template.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BOS, EOS, PAD, IM_START = "<|bos|>", "<|im_end|>", "<|pad|>", "<|im_start|>"

# ChatML-like: enough structure that chat prompts and plain prompts tokenize differently.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

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
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # Byte-level pre-tokenization, but the alphabet is only the corpus' characters (all printable ASCII): any
    # generated token sequence decodes to readable ASCII, which keeps stop-string tests simple. Characters outside
    # it are dropped when encoding, which is fine for a test model.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS, IM_START],
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    # Plain prompts get a BOS like Llama-style tokenizers; chat prompts get it from the template instead.
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, tok.token_to_id(BOS))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[IM_START],
        chat_template=CHAT_TEMPLATE,
        model_max_length=512,
    )


def build_tiny_model(path: str | Path, *, seed: int = 0, vocab_size: int = 400) -> Path:
    """Write a tiny random Qwen2-shaped model and its tokenizer into ``path``; returns the path."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _build_tokenizer(vocab_size)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=512,
        # Wider than the usual 0.02 so logits are spread out: greedy picks are robust to float rounding and
        # sampling at temperature 1 still varies.
        initializer_range=0.2,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


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
