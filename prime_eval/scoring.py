"""``prime-eval score``: verify a JSONL of existing responses, resumably.

Output row i is input row i with ``correct``, ``score``, ``status``, ``answer`` (and ``verify_details``) added.
Rows are appended in chunks and flushed, so a run stopped part-way keeps what it scored; a second run checks
that the existing output belongs to this input and scores only the rest.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .verify.base import Verdict, Verifier

CHUNK_ROWS = 512
MAX_REPORTED_ERRORS = 10


class InputError(ValueError):
    """A problem with the user's input files, reported without a traceback."""


@dataclass
class ScoreSummary:
    total: int
    scored_now: int
    resumed: int
    correct: int
    statuses: Counter = field(default_factory=Counter)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def render(self) -> str:
        lines = [f"accuracy {self.accuracy:.4f} ({self.correct}/{self.total})"]
        if self.resumed:
            lines.append(f"resumed: {self.resumed} rows were already scored, {self.scored_now} scored now")
        lines.append("status " + ", ".join(f"{k}={v}" for k, v in sorted(self.statuses.items())))
        return "\n".join(lines)


def read_rows(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    """All rows of a JSONL file; every bad line is reported with its number, and nothing is scored."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    rows, errors = [], []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(row, dict):
                errors.append(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
                continue
            missing = [k for k in required if k not in row]
            if missing:
                errors.append(
                    f"{path}:{lineno}: missing field {missing[0]!r} (fields: {', '.join(sorted(row)) or 'none'})"
                )
                continue
            rows.append(row)
    if errors:
        more = f"\n... and {len(errors) - MAX_REPORTED_ERRORS} more" if len(errors) > MAX_REPORTED_ERRORS else ""
        raise InputError("\n".join(errors[:MAX_REPORTED_ERRORS]) + more)
    return rows


def _existing_output(path: Path, rows: list[dict[str, Any]], key_fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows already scored by an earlier run; a torn last line (killed mid-write) is cut off."""
    if not path.exists():
        return []
    done, good_bytes = [], 0
    with path.open("rb") as f:
        for raw in f:
            try:
                row = json.loads(raw)
            except json.JSONDecodeError:
                break
            if not raw.endswith(b"\n"):
                break
            done.append(row)
            good_bytes += len(raw)
    if good_bytes != path.stat().st_size:
        with path.open("r+b") as f:
            f.truncate(good_bytes)
    if len(done) > len(rows):
        raise InputError(f"{path} has more rows ({len(done)}) than the input ({len(rows)}): use another --output")
    for i, (old, new) in enumerate(zip(done, rows)):
        if any(old.get(k) != new.get(k) for k in key_fields) or "status" not in old:
            raise InputError(
                f"{path}:{i + 1} does not match input row {i + 1}: this output belongs to other data; "
                "use another --output or delete it"
            )
    return done


def _chunks(n: int, start: int) -> Iterator[range]:
    for lo in range(start, n, CHUNK_ROWS):
        yield range(lo, min(n, lo + CHUNK_ROWS))


VerifyFn = Callable[[Verifier, list[str], list[Any], list[dict[str, Any]]], list[Verdict]]


def score_file(
    input_path: Path,
    output_path: Path,
    verifier: Verifier,
    verify: VerifyFn,
    *,
    response_field: str = "response",
    gold_field: str = "gold",
    meta_fields: tuple[str, ...] = (),
    progress: bool = True,
) -> ScoreSummary:
    rows = read_rows(input_path, (response_field, gold_field))
    for lineno, row in enumerate(rows, 1):
        if not isinstance(row[response_field], str):
            raise InputError(f"{input_path}: row {lineno}: field {response_field!r} must be a string")
    done = _existing_output(output_path, rows, (response_field, gold_field))
    output_path.parent.mkdir(parents=True, exist_ok=True)
    statuses: Counter = Counter(r["status"] for r in done)
    correct = sum(bool(r.get("correct")) for r in done)
    bar = None
    if progress and len(rows) > len(done):
        from tqdm import tqdm

        bar = tqdm(total=len(rows), initial=len(done), desc="scoring", unit="row", dynamic_ncols=True)
    with output_path.open("a", encoding="utf-8") as out:
        for idx in _chunks(len(rows), len(done)):
            batch = [rows[i] for i in idx]
            metas = [{k: r[k] for k in meta_fields if k in r} for r in batch]
            verdicts = verify(verifier, [r[response_field] for r in batch], [r[gold_field] for r in batch], metas)
            for row, verdict in zip(batch, verdicts):
                out.write(json.dumps({**row, **_verdict_fields(verdict)}, ensure_ascii=False) + "\n")
                statuses[verdict.status.value] += 1
                correct += verdict.correct
            out.flush()
            os.fsync(out.fileno())
            if bar is not None:
                bar.update(len(batch))
    if bar is not None:
        bar.close()
    return ScoreSummary(len(rows), len(rows) - len(done), len(done), correct, statuses)


def _verdict_fields(v: Verdict) -> dict[str, Any]:
    return {
        "correct": v.correct,
        "score": v.score,
        "status": v.status.value,
        "answer": v.answer,
        "verify_details": dict(v.details),
    }
