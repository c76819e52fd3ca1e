"""Where metrics go: ``metrics.jsonl`` (one JSON object per step, the record of the run), TensorBoard, and W&B
when a project is named. Only the main process logs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from prime_common.jsonl import Appender, json_line, read_repairing, write_atomic


class MetricsLog:
    def __init__(self, run_dir: Path, *, tensorboard: bool, wandb_project: str | None, config: dict[str, Any]):
        self.path = run_dir / "metrics.jsonl"
        self.writer = None
        self.wandb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(run_dir / "tensorboard"))
            except ImportError:
                print("prime-train: tensorboard is not installed; logging to metrics.jsonl only", file=sys.stderr)
        if wandb_project:
            try:
                import wandb
            except ImportError as exc:
                raise RuntimeError("wandb_project is set but wandb is not installed: pip install wandb") from exc
            self.wandb = wandb.init(project=wandb_project, config=config, dir=str(run_dir), resume="allow")
        self._appender: Appender | None = None

    def truncate_after(self, step: int) -> None:
        """On resume: drop the lines of steps after the checkpoint, which the resumed run does again."""
        if self.path.is_file():
            rows = [r for r in read_repairing(self.path) if r.get("step", 0) <= step]
            write_atomic(self.path, "".join(json_line(r) for r in rows))

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if self._appender is None:
            self._appender = Appender(self.path, fsync_every=1)
        self._appender.write({"step": step, **metrics})
        self._scalars(step, metrics)

    def log_eval(self, step: int, scores: dict[str, float]) -> None:
        self._scalars(step, {f"eval/{k}": v for k, v in scores.items()})
        shown = ", ".join(f"{k} {100 * v:.1f}" for k, v in scores.items() if k.endswith("/avg"))
        print(f"prime-train: step {step} evaluated: {shown}", file=sys.stderr)

    def _scalars(self, step: int, metrics: dict[str, float]) -> None:
        if self.writer is not None:
            for key, value in metrics.items():
                if isinstance(value, (int, float)):
                    self.writer.add_scalar(key, value, step)
            self.writer.flush()
        if self.wandb is not None:
            self.wandb.log(metrics, step=step)

    def close(self) -> None:
        if self._appender is not None:
            self._appender.close()
        if self.writer is not None:
            self.writer.close()
        if self.wandb is not None:
            self.wandb.finish()
