"""The result of one run, and how the raw facts a box reports become a status."""

from __future__ import annotations

import signal as _signal
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from .limits import Limits


class ExecStatus(str, Enum):
    OK = "ok"  # exited with status 0
    RUNTIME_ERROR = "runtime_error"  # exited with a non-zero status (uncaught exception, sys.exit(1), ...)
    TIMEOUT = "timeout"  # wall-clock or CPU limit reached
    MEMORY_LIMIT = "memory_limit"  # killed by the memory cap, or died of MemoryError
    OUTPUT_LIMIT = "output_limit"  # wrote more than max_output_bytes, or a file over max_file_bytes
    KILLED = "killed"  # died of a signal the sandbox did not send (segfault, abort, SIGKILL to itself)
    SANDBOX_ERROR = "sandbox_error"  # the sandbox itself failed; says nothing about the program


@dataclass(frozen=True)
class Execution:
    status: ExecStatus
    exit_code: int | None = None
    signal: int | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_memory_bytes: int = 0
    reason: str = ""
    isolation: str = ""

    @property
    def ok(self) -> bool:
        return self.status is ExecStatus.OK

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        return out

    @classmethod
    def sandbox_error(cls, reason: str, isolation: str = "") -> Execution:
        return cls(status=ExecStatus.SANDBOX_ERROR, reason=reason, isolation=isolation)


def _decode(text: str) -> str:
    # The box ships raw bytes as latin-1; programs write UTF-8, and a cut may split a character.
    return text.encode("latin-1").decode("utf-8", errors="replace")


def classify(raw: dict[str, Any], limits: Limits, *, oom_killed: bool, isolation: str) -> Execution:
    """Turn a box report (see ``_box._watch``) into an ``Execution``; the one place statuses are decided."""
    if "error" in raw:
        return Execution.sandbox_error(raw["error"], isolation)
    code, sig, stopped = raw["exit_code"], raw["signal"], raw["stopped"]
    stderr = _decode(raw["stderr"])
    if stopped == "wall_time":
        status, reason = ExecStatus.TIMEOUT, f"wall time over {limits.wall_time_s:g} s"
    elif stopped == "output":
        status, reason = ExecStatus.OUTPUT_LIMIT, f"output over {limits.max_output_bytes} bytes"
    elif oom_killed:
        status, reason = ExecStatus.MEMORY_LIMIT, f"killed by the {limits.memory_mb} MB memory cap"
    elif sig == _signal.SIGXCPU or (sig == _signal.SIGKILL and _cpu_kill(raw, limits, isolation)):
        status, reason = ExecStatus.TIMEOUT, f"CPU time over {limits.cpu_time_s:g} s"
    elif sig == _signal.SIGXFSZ:
        status, reason = ExecStatus.OUTPUT_LIMIT, f"wrote a file over {limits.max_file_bytes} bytes"
    elif sig is not None:
        status, reason = ExecStatus.KILLED, f"killed by {_signal.Signals(sig).name}"
    elif code == 0:
        status, reason = ExecStatus.OK, ""
    elif _last_line(stderr).startswith("MemoryError"):
        status, reason = ExecStatus.MEMORY_LIMIT, f"MemoryError under the {limits.memory_mb} MB limit"
    elif "[Errno 27]" in _last_line(stderr):  # EFBIG: Python ignores SIGXFSZ, so the write fails instead
        status, reason = ExecStatus.OUTPUT_LIMIT, f"wrote a file over {limits.max_file_bytes} bytes"
    else:
        status, reason = ExecStatus.RUNTIME_ERROR, f"exit status {code}"
    return Execution(
        status=status,
        exit_code=code,
        signal=sig,
        stdout=_decode(raw["stdout"]),
        stderr=stderr,
        stdout_truncated=raw["stdout_truncated"],
        stderr_truncated=raw["stderr_truncated"],
        wall_s=raw["wall_s"],
        cpu_s=raw["cpu_s"],
        peak_memory_bytes=raw["peak_memory_bytes"],
        reason=reason,
        isolation=isolation,
    )


def _cpu_kill(raw: dict[str, Any], limits: Limits, isolation: str) -> bool:
    """Whether a SIGKILL was the kernel's, at the CPU limit. At the namespaces level the program is pid 1 of its run
    and ignores a SIGKILL sent from inside it, so the only senders left are the runner (``stopped`` says so), the
    memory cgroup (checked before) and the CPU limit, which the box sets as a hard limit there; the CPU time that
    rusage reports then can fall a tick or so short of the limit. Elsewhere the program may kill itself."""
    return isolation == "namespaces" or raw["cpu_s"] >= limits.cpu_time_s


def _last_line(stderr: str) -> str:
    lines = stderr.rstrip().splitlines()
    return lines[-1] if lines else ""
