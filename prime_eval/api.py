"""The harness from Python: ``prime_eval.evaluate(...)`` runs what ``prime-eval run`` runs and returns the object
it writes to ``results.json``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from .backends.base import Backend
from .run_config import PAPER_MATH, build_config
from .runner import run_eval


def evaluate(
    model: str,
    benchmarks: str | list[str] = PAPER_MATH,
    *,
    backend: str | Backend = "hf",
    output: str | Path | None = None,
    config: str | Path | None = None,
    progress: bool = False,
    **settings: Any,
) -> dict[str, Any]:
    """Generate, verify and score ``model`` on ``benchmarks``; returns the results (as ``results.json``).

    ``benchmarks``: names, a comma list or a list (paths to your own YAML definitions too). ``backend``: ``"hf"``,
    ``"vllm"``, ``"openai"``, ``"file"`` or a ``Backend`` object of your own. ``output``: the run folder (a rerun
    resumes it; default: a new temporary folder, named in ``results["config"]["output"]``). ``config``: a YAML of
    settings, as ``--config``. ``settings``: any ``RunConfig`` field, as the flags name them (``n``,
    ``temperature``, ``top_p``, ``max_tokens``, ``seed``, ``limit``, ``prompt_mode``, ``preset``, ``data_dir``,
    ``include_path``, ``backend_options={"batch_size": 16}``...). Bad settings raise ``ConfigError``, unknown
    benchmarks ``UnknownBenchmark``, unreadable data ``DataError``.
    """
    if not isinstance(benchmarks, str):
        benchmarks = ",".join(benchmarks)
    if output is None:
        output = tempfile.mkdtemp(prefix="prime-eval-")
    given = None if isinstance(backend, str) else backend
    flags = {**settings, "model": model, "benchmarks": benchmarks, "output": str(output)}
    flags["backend"] = backend if isinstance(backend, str) else getattr(backend, "name", "custom")
    run_config = build_config(flags, Path(config) if config is not None else None)
    return run_eval(run_config, backend=given, progress=progress)
