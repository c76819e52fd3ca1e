"""Fixtures shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.local_data import DATA_ENV, data_dir


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny causal LM with a locally built tokenizer, built once per session (needs transformers)."""
    pytest.importorskip("transformers")
    from tests.tiny_model import tiny_model_dir_for

    return tiny_model_dir_for(tmp_path_factory)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real benchmark files (``../shared/benchmarks``, or ``$PRIME_BENCHMARK_DATA``, which the loaders honour
    too). A test that takes this fixture is skipped, with the reason, where they are missing: the core tests drive
    the generated ``arith`` benchmark instead. ``PRIME_BENCHMARK_DATA=/nonexistent pytest`` runs without them."""
    try:
        path = data_dir()
    except FileNotFoundError:
        path = None
    if path is None or not path.is_dir():
        pytest.skip(f"needs the shared benchmark files (../shared/benchmarks or ${DATA_ENV}): not found")
    return path
