"""Distribution and optimisation through DeepSpeed. The only module of prime that imports ``deepspeed``.

Launch with DeepSpeed's or torch's launcher (``deepspeed --num_gpus 8 ...``, ``torchrun --nproc_per_node 8 ...``);
a plain ``prime-train`` is one process. On CPU (``DS_ACCELERATOR=cpu`` is set when no GPU is visible) processes talk
over gloo, which is how the test suite runs ZeRO-2 across two processes.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

import torch

from .config import DeepSpeedConfig, OptimConfig


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _single_process_env() -> None:
    """Without a launcher, be a world of one instead of letting DeepSpeed go looking for MPI."""
    for key, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1"), ("MASTER_ADDR", "127.0.0.1")):
        os.environ.setdefault(key, value)
    os.environ.setdefault("MASTER_PORT", str(_free_port()))


@dataclass
class TrainEngine:
    """A model being trained: DeepSpeed's engine plus the few calls the trainer makes on it."""

    engine: Any
    name: str

    @property
    def module(self) -> torch.nn.Module:
        return self.engine.module

    def __call__(self, **kwargs):
        return self.engine(**kwargs)

    def train(self) -> None:
        self.engine.train()

    def eval(self) -> None:
        self.engine.eval()

    def backward(self, loss: torch.Tensor) -> None:
        # DeepSpeed divides by the gradient-accumulation steps, so micro-batch losses are means, as in the reference.
        self.engine.backward(loss)

    def step(self) -> bool:
        """Step the optimizer at an accumulation boundary; returns whether it stepped."""
        boundary = self.engine.is_gradient_accumulation_boundary()
        self.engine.step()
        return boundary

    def grad_norm(self) -> float | None:
        norm = self.engine.get_global_grad_norm()
        return None if norm is None else float(norm)

    def save(self, directory: str) -> None:
        """Weights, optimizer and scheduler state (collective: every process calls it)."""
        self.engine.save_checkpoint(directory, tag="state")

    def load(self, directory: str) -> None:
        path, _ = self.engine.load_checkpoint(directory, tag="state", load_optimizer_states=True)
        if path is None:
            raise FileNotFoundError(f"no DeepSpeed checkpoint of {self.name} in {directory}")


class DeepSpeedStrategy:
    """Process group, device, engines and the collectives the trainer needs."""

    def __init__(self) -> None:
        if not torch.cuda.is_available():
            os.environ.setdefault("DS_ACCELERATOR", "cpu")
        if "RANK" not in os.environ:
            _single_process_env()
        import deepspeed

        self._ds = deepspeed
        deepspeed.init_distributed(dist_backend="nccl" if torch.cuda.is_available() else "gloo", verbose=False)
        self.rank = torch.distributed.get_rank()
        self.world_size = torch.distributed.get_world_size()
        if torch.cuda.is_available():
            local = int(os.environ.get("LOCAL_RANK", 0))
            torch.cuda.set_device(local)
            self.device = torch.device("cuda", local)
        else:
            self.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def engine(
        self, model: torch.nn.Module, optim: OptimConfig, ds: DeepSpeedConfig, *, bf16: bool, name: str
    ) -> TrainEngine:
        """Wrap ``model`` with AdamW (betas 0.9/0.999, as the reference) under ZeRO ``ds.zero_stage``."""
        per_step = optim.micro_batch_size * self.world_size
        config: dict[str, Any] = {
            "train_micro_batch_size_per_gpu": optim.micro_batch_size,
            "gradient_accumulation_steps": optim.mini_batch_size // per_step,
            "gradient_clipping": optim.grad_clip,
            "zero_optimization": {"stage": ds.zero_stage},
            "bf16": {"enabled": bf16},
            "steps_per_print": 10**9,
            # A torch optimizer is passed in (the CPU build has no DeepSpeed Adam kernels); allow it with offload.
            "zero_force_ds_cpu_optimizer": False,
        }
        if ds.offload_optimizer:
            config["zero_optimization"]["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
        config.update(ds.extra)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=optim.lr, betas=(0.9, 0.999), weight_decay=optim.weight_decay)
        engine, *_ = self._ds.initialize(model=model, optimizer=optimizer, config=config)
        return TrainEngine(engine, name)

    def all_gather_object(self, obj: Any) -> list[Any]:
        out: list[Any] = [None] * self.world_size
        torch.distributed.all_gather_object(out, obj)
        return out

    def broadcast_object(self, obj: Any) -> Any:
        box = [obj]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.detach().clone().to(self.device)
        torch.distributed.all_reduce(out)
        return out

    def barrier(self) -> None:
        torch.distributed.barrier()

    def close(self) -> None:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
