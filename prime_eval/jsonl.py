"""Moved to :mod:`prime_common.jsonl`, the one module for JSON on disk; this name stays until its last importers
(``prime_eval/runner.py``, ``scoring.py``) import from there."""

from prime_common.jsonl import *  # noqa: F403
