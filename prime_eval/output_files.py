"""Moved to :mod:`prime_common.jsonl`, the one module for JSON on disk; this name stays until its last importer
(``prime_eval/runner.py``) imports from there; then it goes."""

from prime_common.jsonl import *  # noqa: F403
