"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny causal LM with a locally built tokenizer, built once per session (needs transformers)."""
    pytest.importorskip("transformers")
    from tests.tiny_model import tiny_model_dir_for

    return tiny_model_dir_for(tmp_path_factory)
