"""Scoring hook for lm-evaluation-harness tasks written by ``prime-eval lm-eval-tasks``: lm-eval generates, prime's
shared verifier (and, for code, its sandbox) judges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prime_common.jsonl import read_jsonl
from prime_eval.verify import get_verifier, verify_batch


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """lm-eval's per-document hook: ``acc`` is prime's verdict on the (first and only) generation."""
    verifier, reference = get_verifier(doc["verifier"]), json.loads(doc["reference"])
    (verdict,) = verify_batch(verifier, [results[0]], [reference], progress=False)
    return {"acc": float(verdict.correct)}


def load_docs_from(path: Path):
    """lm-eval's ``custom_dataset``: the documents ``prime-eval lm-eval-tasks`` wrote, as a ``test`` split."""
    import datasets

    rows = read_jsonl(Path(path))
    # The reference is a string (math) or a mapping (code tests): one column type, so store it as JSON text.
    for row in rows:
        row["reference"] = json.dumps(row["reference"])
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})
