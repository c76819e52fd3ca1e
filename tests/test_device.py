"""One device/dtype vocabulary for every command that loads a model."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from prime_common.errors import UserError  # noqa: E402
from prime_eval.device import DTYPES, dtype_name, resolve_device, resolve_dtype  # noqa: E402

CPU = torch.device("cpu")


@pytest.mark.parametrize(
    ("name", "dtype"),
    [("fp32", torch.float32), ("float32", torch.float32), ("bf16", torch.bfloat16), ("bfloat16", torch.bfloat16),
     ("fp16", torch.float16), ("float16", torch.float16), ("auto", torch.float32)],
)  # fmt: skip
def test_every_spelling_means_one_dtype(name, dtype):
    assert name in DTYPES
    assert resolve_dtype(name, CPU) == dtype  # auto: float32 on the CPU


def test_unknown_names_are_one_clear_error():
    with pytest.raises(UserError, match=r"unknown dtype 'int8'; choose one of auto, fp32, float32, bf16, bfloat16"):
        resolve_dtype("int8", CPU)
    with pytest.raises(UserError, match=r"device 'gpu0': .*; use auto \(cuda if available\), cpu"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="sees no CUDA GPU"):
            resolve_device("cuda:1")


def test_devices_and_names():
    assert resolve_device("cpu") == CPU
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert dtype_name(torch.bfloat16) == "bfloat16"


def test_the_hf_backend_and_the_reward_models_take_the_whole_vocabulary(tiny_model):
    """The hf backend rejected fp32 and fp16 before; the reward models' flags offer the same names."""
    pytest.importorskip("transformers")
    from prime_eval.backends.hf import HFBackend
    from prime_eval.rewards.implicit_prm import ImplicitPRMSettings
    from prime_eval.rewards.orm import ORMSettings

    assert HFBackend(str(tiny_model), device="cpu", dtype="fp32").describe()["dtype"] == "float32"
    for name in DTYPES:  # each settings class accepts every spelling of the one vocabulary
        ORMSettings(model="m", dtype=name)
        ImplicitPRMSettings(model="m", dtype=name)
