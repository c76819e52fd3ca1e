"""Where the benchmark data files live on this machine (the copies in ``../shared/benchmarks``)."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "PRIME_BENCHMARK_DATA"


def data_dir() -> Path:
    """``$PRIME_BENCHMARK_DATA``, else ``../shared/benchmarks`` beside the repository or the working directory."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    for base in (Path(__file__).resolve().parents[1], Path.cwd()):
        candidate = base.parent / "shared" / "benchmarks"
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"benchmark data not found: set {DATA_ENV} to the folder holding aime24/, math500/, ...")
