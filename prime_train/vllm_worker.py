"""Policy weights into a running vLLM engine, in place, by vLLM's supported route for RL trainers: a worker extension
class (``LLM(worker_extension_cls=...)``) whose method the trainer calls by name with ``LLM.collective_rpc``.

vLLM's engine and workers live in other processes and its RPC carries only plain data (a function or a tensor in
the arguments does not arrive), so the trainer writes the weights to a safetensors file in a private folder and
sends the path: a control message, as vLLM's docs advise; every worker (tensor parallel included) reads the file.
"""

from __future__ import annotations

import inspect
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

WORKER_EXTENSION = f"{__name__}.PolicyWeightReceiver"


class PolicyWeightReceiver:
    """Mixed into vLLM's worker class; ``self`` is the worker."""

    def load_policy_weights(self, path: str) -> int:
        """Load the checkpoint-format weights in ``path`` into the model in place; returns how many tensors."""
        from safetensors.torch import load_file

        weights = load_file(path)
        # The worker's reload_weights passes its arguments on to the model runner's, whose signature tells.
        reload = getattr(self.model_runner, "reload_weights", None)
        if reload is not None and "weights_iterator" in inspect.signature(reload).parameters:
            # vLLM's in-place reload: it re-runs each reloaded layer's post-load processing (the CPU build repacks
            # linear weights for its GEMM kernels; a plain load_weights would write into emptied parameters).
            self.reload_weights(weights_iterator=iter(weights.items()))
            _reprocess_tied_layers(self.model_runner.get_model(), set(weights))
        else:  # vLLM before the in-place reload API: weights are used as loaded (its GPU path)
            self.model_runner.model.load_weights(weights=weights.items())
        return len(weights)


def _reprocess_tied_layers(model: torch.nn.Module, loaded: set[str]) -> None:
    """Layers whose weight is another layer's reloaded tensor (an lm_head tied to the embeddings) were not in the
    update, so the reload did not redo their post-load processing; on the CPU build they would keep computing
    with a packed copy of the old weights."""
    params = dict(model.named_parameters(remove_duplicate=False))
    updated = {params[name].data_ptr() for name in loaded if name in params}
    for prefix, module in model.named_modules():
        method = getattr(module, "quant_method", None)
        weight = getattr(module, "weight", None)
        name = f"{prefix}.weight" if prefix else "weight"
        if method is not None and isinstance(weight, torch.Tensor) and name not in loaded:
            if weight.data_ptr() in updated:
                method.process_weights_after_loading(module)


@contextmanager
def policy_weights_file(policy: torch.nn.Module) -> Iterator[Path]:
    """The policy's tensors as one safetensors file in a folder only this user can read, removed on exit (every
    worker has read it once ``collective_rpc`` returns). Each storage is written once: tied weights are aliases in
    ``state_dict``, which safetensors refuses, and the engine re-ties them itself. The folder is in shared memory
    where there is one: the file is written and read once per update, so speed matters, not durability."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, tensor in policy.state_dict().items():
        if tensor.data_ptr() not in seen:
            seen.add(tensor.data_ptr())
            tensors[name] = tensor.detach().contiguous().cpu()
    shm = Path("/dev/shm")
    base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="prime-vllm-weights-", dir=base) as folder:
        path = Path(folder) / "policy.safetensors"
        save_file(tensors, str(path))
        del tensors
        yield path
