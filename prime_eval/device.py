"""Where a model runs and in which precision: one vocabulary for every command that loads one (the hf and vllm
backends, the reward models, SFT, offline PRM training, the trainer's rollouts). Imports torch only when called."""

from __future__ import annotations

from typing import Any

from prime_common.errors import UserError

# Every spelling a config file or a flag may use, to torch's name; "auto" is decided by the device.
_DTYPE_NAMES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16",
                "fp16": "float16", "float16": "float16"}  # fmt: skip
DTYPES: tuple[str, ...] = ("auto", *_DTYPE_NAMES)
DEVICES_HELP = "auto (cuda if available), cpu, cuda, cuda:1, ..."


def resolve_device(name: str) -> Any:
    """A ``torch.device``; ``auto`` is the first GPU where torch sees one, else the CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise UserError(f"device {name!r}: {str(exc).splitlines()[0]}; use {DEVICES_HELP}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name!r}: torch {torch.__version__} sees no CUDA GPU here")
    return device


def resolve_dtype(name: str, device: Any) -> Any:
    """A ``torch.dtype``. ``auto``: bfloat16 on a GPU that has it (float16 on one that does not), float32 on the
    CPU, where bf16 matmuls are slow and lossy and tests want exact, repeatable numbers."""
    import torch

    if name == "auto":
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if name not in _DTYPE_NAMES:
        raise UserError(f"unknown dtype {name!r}; choose one of {', '.join(DTYPES)}")
    return getattr(torch, _DTYPE_NAMES[name])


def dtype_name(dtype: Any) -> str:
    """``torch.bfloat16`` -> ``"bfloat16"``, as results and vLLM's ``dtype=`` spell it."""
    return str(dtype).removeprefix("torch.")
