"""Responses that already exist (another harness's outputs, an API batch job, a previous prime run), read from JSONL.

Two row formats, mixable in one file:

- prime's samples format: ``{"benchmark": ..., "id": ..., "sample": j, "response": ...}`` (other fields ignored,
  ``finish_reason`` and ``tokens`` kept when present);
- plain: ``{"id": ..., "response": ...}`` (sample 0) or ``{"id": ..., "responses": [...]}`` (sample j is the j-th),
  with an optional ``benchmark``. Rows without ``benchmark`` match that id in any benchmark.

The id is the first of ``id``, ``problem_id`` and ``task_id`` a row has, or the column ``id_field`` names; the
response column is ``response_field`` (``--id-field``/``--response-field``, the vocabulary of every command).
Ids compare as strings, so ``7`` in the file matches the id ``"7"``. A ``.jsonl.gz`` file is read as well.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prime_eval.backends.base import BackendError, Completion, OnCompletion, Request, SamplingConfig
from prime_eval.validate import parse_row

_ANY = None  # the benchmark key of rows that name none


@dataclass(frozen=True)
class _Stored:
    text: str
    finish_reason: str
    tokens: int | None
    line: int


class FileBackend:
    name = "file"

    def __init__(self, path: str | Path, id_field: str | None = None, response_field: str = "response"):
        from prime_common.jsonl import read_input_bytes

        from ..fields import Fields

        self.path = Path(path)
        self.fields = Fields(id_field, response_field)
        if not self.path.is_file():
            raise BackendError(f"responses file {str(self.path)!r} does not exist")
        try:
            self.raw = read_input_bytes(self.path)
        except ValueError as exc:
            raise BackendError(str(exc)) from None
        # (benchmark or None, id) -> sample index -> response
        self.rows: dict[tuple[str | None, str], dict[int, _Stored]] = {}
        for number, line in enumerate(self.raw.splitlines(), start=1):
            self._add(number, line)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "path": str(self.path.resolve()),
            "sha256": hashlib.sha256(self.raw).hexdigest(),
            "prompts": len(self.rows),
            "benchmarks": sorted({b for b, _ in self.rows if b is not None}),
        }

    def generate(self, requests: Sequence[Request], sampling: SamplingConfig, on_completion: OnCompletion) -> None:
        # Check everything first: a file that lacks some responses fails before anything is reported.
        found = [(request, j, self._lookup(request, j)) for request in requests for j in request.samples]
        missing = [(request, j) for request, j, stored in found if stored is None]
        if missing:
            raise BackendError(self._missing_message(missing))
        for request, j, stored in found:
            on_completion(request, Completion(j, stored.text, stored.finish_reason, stored.tokens, 0.0))

    def close(self) -> None:
        pass

    def _add(self, number: int, line: bytes) -> None:
        where = f"{self.path}:{number}"
        try:
            row = parse_row(line)
        except ValueError as exc:
            raise BackendError(f"{where}: {exc}") from None
        if row is None:  # a blank line
            return
        id_name = self.fields.id_name(row)
        if id_name is None:
            raise BackendError(f"{where}: expected an object with an id field ({self.fields.id_wanted()})")
        response = self.fields.response
        benchmark = row.get("benchmark")
        key = (str(benchmark) if benchmark is not None else _ANY, str(row[id_name]))
        if "responses" in row:
            if not isinstance(row["responses"], list) or not all(isinstance(r, str) for r in row["responses"]):
                raise BackendError(f"{where}: 'responses' must be a list of strings")
            entries = [(j, _Stored(text, "stop", None, number)) for j, text in enumerate(row["responses"])]
        elif response in row:
            if not isinstance(row[response], str):
                raise BackendError(f"{where}: {response!r} must be a string")
            sample = row.get("sample", 0)
            if not isinstance(sample, int) or sample < 0:
                raise BackendError(f"{where}: 'sample' must be a non-negative integer")
            finish = row.get("finish_reason") if row.get("finish_reason") in ("stop", "length") else "stop"
            tokens = row.get("tokens") if isinstance(row.get("tokens"), int) else None
            entries = [(sample, _Stored(row[response], finish, tokens, number))]
        else:
            raise BackendError(f"{where}: a row needs {response!r} or 'responses'")
        samples = self.rows.setdefault(key, {})
        for j, stored in entries:
            old = samples.get(j)
            if old is not None and old.text != stored.text:
                raise BackendError(
                    f"{where}: second, different response for id {key[1]!r} sample {j} (first on line {old.line})"
                )
            samples[j] = stored

    def _lookup(self, request: Request, j: int) -> _Stored | None:
        if "id" not in request.meta:
            raise BackendError(f"request {request.key!r} has no meta['id']: the file backend matches on it")
        benchmark, pid = request.meta.get("benchmark"), str(request.meta["id"])
        for key in ((str(benchmark) if benchmark is not None else _ANY, pid), (_ANY, pid)):
            stored = self.rows.get(key, {}).get(j)
            if stored is not None:
                return stored
        return None

    def _missing_message(self, missing: list[tuple[Request, int]]) -> str:
        request, j = missing[0]
        benchmark, pid = request.meta.get("benchmark"), str(request.meta["id"])
        message = (
            f"{self.path} has no response for benchmark {benchmark!r} id {pid!r} sample {j}"
            f" ({len(missing)} missing in all)"
        )
        wanted = {str(r.meta["benchmark"]) for r, _ in missing if r.meta.get("benchmark") is not None}
        in_file = {b for b, _ in self.rows if b is not None}
        known_ids = {i for _, i in self.rows}
        wanted_ids = {str(r.meta["id"]) for r, _ in missing}
        have = self.rows.get((str(benchmark), pid)) or self.rows.get((_ANY, pid))
        if wanted and in_file and not wanted & in_file:
            message += f"; the file holds benchmark(s) {', '.join(sorted(in_file))}, not {', '.join(sorted(wanted))}"
        elif known_ids and not known_ids & wanted_ids:
            message += (
                "; none of the requested ids are in the file: are its responses for another benchmark? "
                f"(file ids look like {_examples(known_ids)}, requested ones like {_examples(wanted_ids)})"
            )
        elif have:
            message += f"; the file has samples {sorted(have)} for it"
        return message


def _examples(ids: set[str], k: int = 3) -> str:
    return ", ".join(repr(i) for i in sorted(ids)[:k])
