"""Resource limits of one run, with defaults safe for untrusted code."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Limits:
    """What one run may use. Every limit is enforced by the kernel, not by the program's good will.

    ``memory_mb`` is resident memory (a memory cgroup) where the host allows it, address space otherwise.
    ``max_processes`` counts processes and threads together, the interpreter's own main thread included.
    ``max_output_bytes`` applies to stdout and stderr each; a run that writes more is stopped.
    ``disk_mb`` sizes the private in-memory work directory.
    """

    wall_time_s: float = 10.0
    cpu_time_s: float = 10.0
    memory_mb: int = 1024
    max_processes: int = 32
    max_output_bytes: int = 1 << 20
    max_file_bytes: int = 16 << 20
    max_open_files: int = 64
    disk_mb: int = 64

    def __post_init__(self) -> None:
        for name, value in self.to_dict().items():
            if value <= 0:
                raise ValueError(f"Limits.{name} must be positive, got {value!r}")

    def with_(self, **changes: Any) -> Limits:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        # Every field is a number: a copy of the fields is asdict's result without its recursive deep copy, which
        # costs more than the rest of building a request.
        return dict(vars(self))
