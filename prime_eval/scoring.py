"""``prime-eval score``: verify a JSONL of existing responses, resumably.

Output row i is input row i with ``correct``, ``score``, ``status``, ``answer`` (and ``verify_details``) added.
Rows are appended and flushed one by one, so a run stopped part-way keeps what it scored; a second run checks
that the existing output belongs to this input and scores only the rest. The output is locked while it is
written (``output_lock``): a second scorer of it stops at once and names the first.

Every input line is checked before anything is scored (``validate``): UTF-8 JSON objects, a string response,
a gold that is text or a finite number; an empty input is an error, not "0/0".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prime_common.errors import UserError
from prime_common.jsonl import Appender, input_lines, prepare_output_file, read_repairing

from .console import pct
from .fields import did_you_mean
from .output_lock import hold_output
from .validate import check_gold, parse_row
from .verify.base import Verdict, Verifier

CHUNK_ROWS = 512
MAX_REPORTED_ERRORS = 10


class InputError(UserError, ValueError):
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
        lines = [f"accuracy {pct(self.accuracy)} ({self.correct}/{self.total})"]
        if self.resumed:
            lines.append(f"resumed: {self.resumed} rows were already scored, {self.scored_now} scored now")
        lines.append("status " + ", ".join(f"{k}={v}" for k, v in sorted(self.statuses.items())))
        return "\n".join(lines)


def read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) for every row of a JSONL file (``.jsonl.gz`` too); every bad line is reported, and
    nothing is scored."""
    if not path.is_file():
        raise InputError(f"{path}: {'a folder, not a file' if path.is_dir() else 'no such file'}")
    rows, errors = [], []
    lines = input_lines(path)
    try:
        for lineno, raw in enumerate(lines, 1):
            try:
                row = parse_row(raw)
            except ValueError as exc:
                errors.append(f"{path}:{lineno}: {exc}")
                continue
            if row is not None:
                rows.append((lineno, row))
    except ValueError as exc:  # damaged compression
        raise InputError(str(exc)) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    _raise_if_any(errors)
    if not rows:
        raise InputError(f"no rows in {path}")
    return rows


def _raise_if_any(errors: list[str]) -> None:
    if errors:
        more = f"\n... and {len(errors) - MAX_REPORTED_ERRORS} more" if len(errors) > MAX_REPORTED_ERRORS else ""
        raise InputError("\n".join(errors[:MAX_REPORTED_ERRORS]) + more)


# A row becomes (response, reference, meta); a bad row raises ValueError with the message for the user.
RowToCheck = Callable[[dict[str, Any], str], tuple[str, Any, dict[str, Any]]]


def field_check(response_field: str = "response", gold_field: str = "gold") -> RowToCheck:
    """Rows that carry their own gold answer (the math benchmarks)."""

    def to_check(row: dict[str, Any], where: str) -> tuple[str, Any, dict[str, Any]]:
        for key in (response_field, gold_field):
            if key not in row:
                raise ValueError(f"{where}: missing field {key!r}" + did_you_mean(key, row))
        if not isinstance(row[response_field], str):
            raise ValueError(f"{where}: field {response_field!r} must be a string")
        check_gold(row[gold_field], where, gold_field)
        return row[response_field], row[gold_field], {}

    return to_check


def _existing_output(path: Path, rows: list[dict[str, Any]], key_fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows already scored by an earlier run, checked to belong to this input."""
    done = read_repairing(path)
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
    to_check: RowToCheck,
    *,
    key_fields: tuple[str, ...],
    progress: bool = True,
) -> ScoreSummary:
    """Score every row; ``key_fields`` tie an existing output to its input when resuming."""
    numbered = read_rows(input_path)
    checks, errors = [], []
    for lineno, row in numbered:
        try:
            checks.append(to_check(row, f"{input_path}:{lineno}"))
        except ValueError as exc:
            errors.append(str(exc))
    _raise_if_any(errors)
    rows = [row for _, row in numbered]
    prepare_output_file(output_path)
    with hold_output(output_path):  # a second scorer of this output would append every row again
        return _score_rest(rows, checks, output_path, verifier, verify, key_fields, progress)


def _score_rest(
    rows: list[dict[str, Any]],
    checks: list[tuple[str, Any, dict[str, Any]]],
    output_path: Path,
    verifier: Verifier,
    verify: VerifyFn,
    key_fields: tuple[str, ...],
    progress: bool,
) -> ScoreSummary:
    done = _existing_output(output_path, rows, key_fields)
    statuses: Counter = Counter(r["status"] for r in done)
    correct = sum(bool(r.get("correct")) for r in done)
    bar = None
    if progress and len(rows) > len(done):
        from tqdm import tqdm

        bar = tqdm(total=len(rows), initial=len(done), desc="scoring", unit="row", dynamic_ncols=True)
    out = Appender(output_path)  # each row written as scored: a stopped run keeps what it scored
    try:
        for idx in _chunks(len(rows), len(done)):
            batch = [rows[i] for i in idx]
            responses, references, metas = zip(*(checks[i] for i in idx))
            verdicts = verify(verifier, list(responses), list(references), list(metas))
            for row, verdict in zip(batch, verdicts):
                out.write({**row, **_verdict_fields(verdict)})
                statuses[verdict.status.value] += 1
                correct += verdict.correct
            if bar is not None:
                bar.update(len(batch))
    finally:
        out.close()
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
