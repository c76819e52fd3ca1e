"""One request to the in-box runner (``_box.py``), as the bytes a backend writes on its control stream.

A request is a length-prefixed JSON header, then the run's payload as raw bytes, in this order: stdin, each file,
the sealed payload. The header holds the program text, the limits and the payload's sizes only. The runner moves
the payload into memory files with ``splice``, so no byte of it ever enters the runner's own memory, which every
later run of the box is forked from: what one run reads can never be found by scanning the memory of another.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping

from .limits import Limits


def _bytes(data: str | bytes) -> bytes:
    return data.encode() if isinstance(data, str) else bytes(data)


def encode_request(
    program: str,
    *,
    limits: Limits,
    stdin: str | bytes | None = None,
    files: Mapping[str, str | bytes] | None = None,
    sealed: str | bytes | None = None,
    helper: str | None = None,
) -> bytes:
    """The control-stream bytes of one run (str payloads are sent as UTF-8). ``helper`` names a preloaded module
    whose helper process gets the sealed payload instead of the program (``_box._Helpers``)."""
    stdin_bytes = None if stdin is None else _bytes(stdin)
    file_items = [(name, _bytes(data)) for name, data in (files or {}).items()]
    sealed_bytes = b"" if sealed is None else _bytes(sealed)
    header = {
        "program": program,
        "limits": limits.to_dict(),
        "stdin": None if stdin_bytes is None else len(stdin_bytes),
        "files": [[name, len(data)] for name, data in file_items],
        "sealed": len(sealed_bytes),
    }
    if helper is not None:
        header["helper"] = helper
    body = json.dumps(header).encode()
    parts = [struct.pack(">I", len(body)), body, stdin_bytes or b""]
    parts += [data for _, data in file_items]
    parts.append(sealed_bytes)
    return b"".join(parts)


def encode_preload(modules: Mapping[str, str]) -> bytes:
    """The control-stream bytes that have a box's runner build ``modules`` ({name: source}): trusted code only,
    run outside any run's confinement (see ``_box.preload``)."""
    body = json.dumps({"preload": dict(modules)}).encode()
    return struct.pack(">I", len(body)) + body
