"""One writer per output: two commands appending to the same file would duplicate its rows.

The lock is ``flock`` on a lock file beside the output, file or folder (``out.jsonl.lock``, ``run.lock``), so
that taking it creates nothing inside an output that a refused command would leave behind. The kernel releases it when its holder exits, however it exits, so a run killed with SIGKILL
never blocks the rerun that resumes it. The file records who holds it, for the message the second command prints.
Within one process the lock is re-entrant: a command may hold its output while a function it calls takes it too.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prime_common.jsonl import OutputError, os_error, prepare_output_dir

from .provenance import utc_now

RECORD_WAIT_TRIES = 10
_held: dict[Path, int] = {}  # lock file -> depth of re-entry in this process
_held_lock = threading.Lock()


class OutputBusy(OutputError):
    """Another live process is writing the same output."""


def lock_path(output: Path) -> Path:
    return output.with_name(output.name + ".lock")


@contextmanager
def hold_output(output: Path) -> Iterator[None]:
    """Hold ``output`` (a file or a folder) for the duration of the block; raises ``OutputBusy`` naming the holder
    at once instead of waiting."""
    path = lock_path(Path(output).absolute())
    prepare_output_dir(path.parent)
    with _held_lock:
        if path in _held:
            _held[path] += 1
            fd = None
        else:
            fd = _acquire(path, output)
            _held[path] = 1
    try:
        yield
    finally:
        with _held_lock:
            _held[path] -= 1
            if not _held[path]:
                del _held[path]
                if fd is not None:
                    _release(path, fd)


def _acquire(path: Path, output: Path) -> int:
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise os_error(path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise OutputBusy(
                f"output {output} is being written by {holder}; wait for it or choose another output"
            ) from None
        # The holder before us may have removed the file between our open and our flock: then we hold a lock on
        # a name no one else can find, and must take the current file instead.
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    record = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv), "started": utc_now()}
    try:
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(record) + "\n").encode())
    except OSError:
        pass  # a full disk must not stop the run here: the lock is held all the same, only unlabelled
    return fd


def _read_holder(fd: int) -> str:
    # The holder writes its record just after it takes the lock: a command refused in between waits a moment
    # for it, so that its message names the holder.
    for _ in range(RECORD_WAIT_TRIES):
        try:
            record = json.loads(os.pread(fd, 4096, 0))
            return f"pid {record['pid']} on {record['host']} (started {record['started']}: {record['command']})"
        except (OSError, ValueError, KeyError, TypeError):
            time.sleep(0.05)
    return "another process (it has not recorded itself)"


def _release(path: Path, fd: int) -> None:
    # Removed while still locked, so that no other process can be holding it: see the inode check in _acquire.
    try:
        path.unlink()
    except OSError:
        pass
    os.close(fd)
