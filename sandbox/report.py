"""A run's report as the in-box runner (``_box.py``) sends it back: a length-prefixed JSON header, then, for a run
that ended, its stdout and then its stderr as raw bytes (``stdout_bytes`` and ``stderr_bytes`` of the header say
how many). The runner relays those bytes from memory files without reading them; here they become the latin-1 text
``execution.classify`` expects. Other frames (ready, preload replies, errors) are the header alone.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

# Reads exactly n bytes, or returns None when the stream ends or its time is up first.
ReadExact = Callable[[int], "bytes | None"]


def read_report(read_exact: ReadExact) -> dict[str, Any] | None:
    """The next frame of a runner's output stream, with a run's output attached as ``stdout`` and ``stderr``."""
    head = read_exact(4)
    if head is None:
        return None
    body = read_exact(struct.unpack(">I", head)[0])
    if body is None:
        return None
    frame = json.loads(body)
    for name in ("stdout", "stderr"):
        size = frame.pop(f"{name}_bytes", None)
        if size is None:
            continue
        data = read_exact(size) if size else b""
        if data is None:
            return None
        frame[name] = data.decode("latin-1")
    return frame
