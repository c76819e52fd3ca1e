"""Checkpoints: ``checkpoints/step-N/`` is the policy as a Hugging Face folder (what ``prime-eval run --model``
takes), with ``prm/`` (the implicit PRM, also a Hugging Face folder), ``deepspeed/`` (engines' weights, optimizer
and scheduler states), ``rng/rank-R.pt`` and ``trainer_state.json`` (step, data position, counters).

A checkpoint is written under ``step-N.tmp`` and renamed when complete, so a run killed while saving leaves the
previous checkpoint as the newest; ``trainer_state.json`` is written last and marks a folder as complete.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .strategy import DeepSpeedStrategy, TrainEngine

STATE_FILE = "trainer_state.json"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return run_dir / "checkpoints" / f"step-{step}"


def complete_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, folder) of every complete checkpoint, oldest first."""
    root = run_dir / "checkpoints"
    found = []
    if root.is_dir():
        for entry in root.iterdir():
            match = _STEP_DIR.match(entry.name)
            if match and (entry / STATE_FILE).is_file():
                found.append((int(match.group(1)), entry))
    return sorted(found)


def _rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    strategy: DeepSpeedStrategy,
    run_dir: Path,
    step: int,
    engines: dict[str, TrainEngine],
    tokenizer: Any,
    state: dict[str, Any],
) -> Path:
    """Collective: every process calls it. Returns the final folder."""
    final = checkpoint_path(run_dir, step)
    tmp = final.with_name(final.name + ".tmp")
    if strategy.is_main and tmp.exists():
        shutil.rmtree(tmp)
    strategy.barrier()
    for name, engine in engines.items():
        engine.save(str(tmp / "deepspeed" / name))
    (tmp / "rng").mkdir(parents=True, exist_ok=True)
    torch.save(_rng_state(), tmp / "rng" / f"rank-{strategy.rank}.pt")
    strategy.barrier()
    if strategy.is_main:
        engines["policy"].module.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if "prm" in engines:
            engines["prm"].module.save_pretrained(tmp / "prm", safe_serialization=True)
            tokenizer.save_pretrained(tmp / "prm")
        (tmp / STATE_FILE).write_text(json.dumps({**state, "step": step, "world_size": strategy.world_size}, indent=2))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    strategy.barrier()
    return final


def load_checkpoint(strategy: DeepSpeedStrategy, folder: Path, engines: dict[str, TrainEngine]) -> dict[str, Any]:
    """Restore engines and this process's RNG from ``folder``; returns the saved trainer state."""
    state = json.loads((folder / STATE_FILE).read_text())
    for name, engine in engines.items():
        engine.load(str(folder / "deepspeed" / name))
    rng = folder / "rng" / f"rank-{strategy.rank}.pt"
    if rng.is_file():
        _set_rng_state(torch.load(rng, weights_only=False))
    return state


def prune_checkpoints(run_dir: Path, keep: int | None, protect: set[int]) -> None:
    """Delete all but the newest ``keep`` complete checkpoints (never one in ``protect``, e.g. still being scored)."""
    if keep is None:
        return
    found = complete_checkpoints(run_dir)
    for step, folder in found[: max(0, len(found) - keep)]:
        if step not in protect:
            shutil.rmtree(folder, ignore_errors=True)
