"""A tiny causal LM built from scratch, for the CPU demo (SFT then RL on ``arith``) and for tests: no download.

``build_tiny_model(path)`` writes a Hugging Face folder that ``AutoModelForCausalLM``/``AutoTokenizer`` load
offline: a small Qwen2-shaped model with random weights, plus a byte-level BPE tokenizer trained here on ``arith``
prompts and worked solutions, split as Qwen2's tokenizer splits text, with BOS/EOS/PAD and a ChatML-like chat
template. Digits are single tokens (a number split into arbitrary BPE chunks is much harder to add up).
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from prime_common.jsonl import json_document, write_atomic

BOS, EOS, PAD, IM_START = "<|bos|>", "<|im_end|>", "<|pad|>", "<|im_start|>"

# ChatML-like, the shape of Qwen's template: "<|im_start|>assistant\n" opens the reply and EOS (<|im_end|>)
# closes it, so generation stops where a chat model's would.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class TinySpec:
    """Shape of the model (about 0.45M parameters), measured on a 2-core CPU (docs/arith.md): 500 SFT steps take
    about 45 s and leave it right 27-59% of the time on ``arith`` at temperature 1 (seed 0: 18%, miscopying
    operands); the default 1200 take about 190 CPU-s. Four layers learn less per second of CPU; hidden 64 learns
    too slowly per step."""

    vocab_size: int = 256  # upper bound: on arith text the BPE trainer runs out of merges at 250
    hidden: int = 128
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 384
    max_positions: int = 512
    initializer_range: float = 0.02


def train_tokenizer(
    corpus: Iterable[str],
    vocab_size: int,
    *,
    qwen2_pretokenizer: bool = True,
    alphabet: str = "",
    model_max_length: int = 512,
    chat_template: str = CHAT_TEMPLATE,
) -> Any:
    """A byte-level BPE ``PreTrainedTokenizerFast`` trained on ``corpus`` with the special tokens above.

    ``qwen2_pretokenizer`` splits text as ``Qwen2Tokenizer`` does (its regex, which makes every digit a token, and
    NFC). That is not a style choice: transformers 5 loads the tokenizer of any ``qwen2`` folder as
    ``Qwen2Tokenizer``, which rebuilds the pre-tokenizer from that regex whatever ``tokenizer.json`` says, so merges
    learnt under another split would be applied to pieces they were never trained on. Without it: GPT-2's
    byte-level split (the test suite's tokenizer). The alphabet is the corpus' characters plus ``alphabet``; other
    characters are dropped when encoding. Plain text gets a BOS (as Llama-style tokenizers do); chat prompts get it
    from the template instead.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    if qwen2_pretokenizer:
        from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, BOS, EOS, IM_START], show_progress=False)
    tok.train_from_iterator(list(corpus) + ([alphabet] if alphabet else []), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, tok.token_to_id(BOS))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[IM_START],
        chat_template=chat_template,
        model_max_length=model_max_length,
    )


def arith_corpus(problems: int = 2000, seed: int = 0) -> list[str]:
    """Tokenizer training text: ``arith`` train prompts (question and math suffix, as the chat and plain modes
    send them), their worked solutions, and the chat roles. The difficulty is fixed here, not read from
    arith.yaml, so that retuning the benchmark's mix does not renumber the vocabulary of new models."""
    from benchmarks.arith import Difficulty, train_problems
    from prime_eval.prompts import PromptTemplate

    template = PromptTemplate("plain", "math")
    texts = []
    for row in train_problems(problems, seed=seed, difficulty=Difficulty(max_digits=2, max_operands=3)):
        texts += [template.render(row["question"]), row["solution"]]
    return texts + ["user\n", "assistant\n", "system\n"] * (problems // 10)


def build_tiny_model(
    path: str | Path,
    *,
    seed: int = 0,
    vocab_size: int = TinySpec.vocab_size,
    hidden: int = TinySpec.hidden,
    layers: int = TinySpec.layers,
    heads: int = TinySpec.heads,
    kv_heads: int = TinySpec.kv_heads,
    intermediate: int = TinySpec.intermediate,
    max_positions: int = TinySpec.max_positions,
    initializer_range: float = TinySpec.initializer_range,
    tokenizer: Any = None,
) -> Path:
    """Write a random tiny Qwen2-shaped model and its tokenizer (trained on ``arith`` text unless one is given)
    into ``path``; returns the path. Same arguments, same files."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    spec = TinySpec(vocab_size, hidden, layers, heads, kv_heads, intermediate, max_positions, initializer_range)
    if hidden % heads or heads % kv_heads:
        raise ValueError(f"hidden ({hidden}) must divide by heads ({heads}), and heads by kv_heads ({kv_heads})")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if tokenizer is None:
        tokenizer = train_tokenizer(
            arith_corpus(), vocab_size, alphabet=string.printable, model_max_length=max_positions
        )
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=max_positions,
        initializer_range=initializer_range,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    write_atomic(path / "tiny_spec.json", json_document({**asdict(spec), "seed": seed}))
    return path
