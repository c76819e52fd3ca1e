"""transformers backend: a checkpoint loaded on one device, generated from by ``prime_eval.engines.hf.HFEngine``
(the engine the trainer's rollouts use too), for CPU tests, small models and checks without vLLM. ``describe()``
records ``batch_size``: padding and batch size change float rounding (see the engine's docstring)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from prime_eval.backends._deps import import_optional
from prime_eval.backends.base import BackendError
from prime_eval.backends.local import EngineBackend
from prime_eval.device import dtype_name, resolve_device, resolve_dtype
from prime_eval.engines.hf import HFEngine

torch = import_optional("torch", "hf", "hf")
transformers = import_optional("transformers", "hf", "hf")


class HFBackend(EngineBackend):
    name = "hf"

    def __init__(
        self,
        model: str,
        *,
        revision: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
        trust_remote_code: bool = False,
    ):
        self.model_name = model
        self.revision = revision
        self.batch_size = batch_size
        self.device = resolve_device(device)
        self.dtype = dtype_name(resolve_dtype(dtype, self.device))
        load = {"revision": revision, "trust_remote_code": trust_remote_code}
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(model, **load)
            dtype_key = "dtype" if _transformers_at_least("4.56") else "torch_dtype"
            loaded = transformers.AutoModelForCausalLM.from_pretrained(
                model, **load, **{dtype_key: getattr(torch, self.dtype)}
            )
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot load model {model!r} (revision {revision}): {exc}") from exc
        self.engine = HFEngine(loaded.to(self.device).eval(), tokenizer, batch_size)
        # Identity of the weights, kept now so describe() works after close(): the Hub commit when loaded from the
        # Hub, a sampled hash of the files for a local directory.
        self.commit = getattr(loaded.config, "_commit_hash", None)
        self.weights_fingerprint = _weights_fingerprint(model)
        self.ignored_generation_defaults = self.engine.ignored_generation_defaults

    @property
    def model(self) -> Any:
        return self.engine.model

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model_name,
            "revision": self.revision,
            "commit": self.commit,
            "weights_fingerprint": self.weights_fingerprint,
            "dtype": self.dtype,
            "device": str(self.device),
            "batch_size": self.batch_size,
            "ignored_generation_defaults": self.ignored_generation_defaults,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        }

    def close(self) -> None:
        super().close()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def _transformers_at_least(version: str) -> bool:
    from packaging.version import Version  # a dependency of transformers

    return Version(transformers.__version__) >= Version(version)


def _weights_fingerprint(model: str) -> str | None:
    """sha256 over config.json and, per weight file, its name, size and three 1 MiB chunks (start, middle, end).

    Hashing whole checkpoints takes minutes; the sampled chunks tell two checkpoints of the same architecture (e.g.
    training steps 100 and 200) apart in practice. None for Hub ids (their commit hash is recorded instead).
    """
    root = Path(model)
    if not root.is_dir():
        return None
    digest = hashlib.sha256()
    weights = sorted(
        p for p in root.iterdir() if p.suffix in {".safetensors", ".bin", ".pt"} or p.name == "config.json"
    )
    for path in weights:
        size = path.stat().st_size
        digest.update(f"{path.name}:{size}".encode())
        with path.open("rb") as f:
            for offset in sorted({0, max(0, size // 2 - 2**19), max(0, size - 2**20)}):
                f.seek(offset)
                digest.update(f.read(2**20))
    return digest.hexdigest()
