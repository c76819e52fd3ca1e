"""A memory + pids cgroup (v1) per box: the resident-memory cap, the process/thread cap and OOM-kill detection.

rlimits cannot do these: RLIMIT_AS counts address space, not memory, and RLIMIT_NPROC counts every process of the
user (and does not apply to root at all). Used only where the v1 controllers are mounted writable; elsewhere the
box falls back to rlimits and the backend says so.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids")
PARENT = "prime-sandbox"
# The runner shares pages with the program (fork); this covers what it adds on top of it.
MEMORY_HEADROOM = 64 << 20
# bwrap, bwrap's pid-1 helper and the runner (a run's program is its own pid 1: no per-run init).
BASE_PROCESSES = 3

_counter = itertools.count()


def available() -> bool:
    try:
        for name in CONTROLLERS:
            parent = ROOT / name / PARENT
            parent.mkdir(exist_ok=True)
            if not os.access(parent, os.W_OK):
                return False
        _sweep_stale()
        return True
    except OSError:
        return False


def _sweep_stale() -> None:
    """Remove groups left by owners that died without cleaning up (killed workers); busy ones stay."""
    for name in CONTROLLERS:
        for group in (ROOT / name / PARENT).iterdir():
            owner = group.name.split("-", 1)[0]
            if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                try:
                    group.rmdir()
                except OSError:
                    pass


class BoxCgroup:
    """The groups of one box; the box joins them before it execs, so everything it forks is inside."""

    def __init__(self) -> None:
        label = f"{os.getpid()}-{next(_counter)}"
        self.dirs = {name: ROOT / name / PARENT / label for name in CONTROLLERS}
        for path in self.dirs.values():
            path.mkdir()
        self._memory = -1
        self._pids = -1
        self.idle = BASE_PROCESSES  # replaced by the count measured once the box is up

    @property
    def procs_files(self) -> list[str]:
        return [str(path / "cgroup.procs") for path in self.dirs.values()]

    def apply(self, memory_mb: int, max_processes: int) -> None:
        memory = (memory_mb << 20) + MEMORY_HEADROOM
        if memory != self._memory:
            (self.dirs["memory"] / "memory.limit_in_bytes").write_text(str(memory))
            self._memory = memory
        pids = max_processes + BASE_PROCESSES
        if pids != self._pids:
            (self.dirs["pids"] / "pids.max").write_text(str(pids))
            self._pids = pids

    def settle(self, timeout_s: float = 1.0) -> None:
        """Wait until the processes a previous run left (a fork bomb being reaped) are gone from the count, so
        they do not eat into the next run's process cap."""
        deadline = time.monotonic() + timeout_s
        while self.processes() > self.idle and time.monotonic() < deadline:
            time.sleep(0.005)

    def processes(self) -> int:
        return int((self.dirs["pids"] / "pids.current").read_text())

    def oom_kills(self) -> int:
        for line in (self.dirs["memory"] / "memory.oom_control").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return int((self.dirs["memory"] / "memory.failcnt").read_text())

    def remove(self) -> None:
        # The box's processes die asynchronously after it is killed; a group is removable once it is empty.
        for _ in range(50):
            for path in list(self.dirs.values()):
                try:
                    path.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:
                    continue
                self.dirs = {k: v for k, v in self.dirs.items() if v != path}
            if not self.dirs:
                return
            time.sleep(0.02)
