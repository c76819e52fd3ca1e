"""The seccomp filter every sandboxed program runs under, built here as classic BPF for the in-box runner.

The box's namespaces already keep a program from the host's files, processes and network; this filter shuts the
kernel interfaces that are reachable from inside anyway and that no test program needs: creating namespaces and
mounting (the way back to capabilities), io_uring, bpf, perf and userfaultfd (large attack surface), keyrings
(shared by every box of one uid), reading or writing other processes (ptrace, process_vm_*, pidfd_getfd) and host
administration. Denied calls fail with EPERM, so a program sees an ordinary error, not a crash.

Plain fork/clone, threads, pipes, signals, prctl and seccomp itself stay allowed: CPython's subprocess, threading and
multiprocessing need them, and a harness inside a run may stack a stricter filter of its own on top of this one.

The filter is built for the architecture of the interpreter that builds it (the box runs the same one) and kills
a process that makes a system call of any other ABI (i386 ``int 0x80`` or x32 on x86_64), whose numbers differ.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import sys
from dataclasses import dataclass


class UnsupportedArchitecture(RuntimeError):
    """No system call table here for this architecture: refusing to run untrusted code without the filter."""


@dataclass(frozen=True)
class Arch:
    audit: int  # AUDIT_ARCH_* as the kernel reports it in seccomp_data.arch
    numbers: dict[str, int]


# From the kernel's syscall tables (arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/unistd.h).
# Numbers from 424 on are shared by every architecture.
_COMMON = {
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "clone3": 435, "pidfd_getfd": 438,
    "process_madvise": 440,
    "mount_setattr": 442, "quotactl_fd": 443,
}  # fmt: skip
ARCHES = {
    "x86_64": Arch(0xC000003E, {
        "socket": 41, "socketpair": 53, "clone": 56, "ptrace": 101, "syslog": 103, "uselib": 134, "personality": 135, "vhangup": 153,
        "modify_ldt": 154, "pivot_root": 155, "adjtimex": 159, "chroot": 161, "acct": 163, "settimeofday": 164,
        "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169, "sethostname": 170,
        "setdomainname": 171, "iopl": 172, "ioperm": 173, "init_module": 175, "delete_module": 176, "quotactl": 179,
        "lookup_dcookie": 212, "clock_settime": 227, "kexec_load": 246, "add_key": 248, "request_key": 249,
        "keyctl": 250, "unshare": 272, "perf_event_open": 298, "fanotify_init": 300, "name_to_handle_at": 303,
        "open_by_handle_at": 304, "clock_adjtime": 305, "setns": 308, "process_vm_readv": 310,
        "process_vm_writev": 311, "kcmp": 312, "finit_module": 313, "kexec_file_load": 320, "bpf": 321,
        "userfaultfd": 323, **_COMMON,
    }),
    "aarch64": Arch(0xC00000B7, {
        "lookup_dcookie": 18, "umount2": 39, "mount": 40, "pivot_root": 41, "chroot": 51, "vhangup": 58,
        "quotactl": 60, "acct": 89, "personality": 92, "unshare": 97, "kexec_load": 104, "init_module": 105,
        "delete_module": 106, "clock_settime": 112, "syslog": 116, "ptrace": 117, "reboot": 142,
        "sethostname": 161, "setdomainname": 162, "settimeofday": 170, "adjtimex": 171, "add_key": 217,
        "request_key": 218, "keyctl": 219, "clone": 220, "swapon": 224, "swapoff": 225, "perf_event_open": 241,
        "fanotify_init": 262, "name_to_handle_at": 264, "open_by_handle_at": 265, "clock_adjtime": 266,
        "setns": 268, "process_vm_readv": 270, "process_vm_writev": 271, "kcmp": 272, "finit_module": 273,
        "socket": 198, "socketpair": 199, "bpf": 280, "userfaultfd": 282, "kexec_file_load": 294, **_COMMON,
    }),
}  # fmt: skip

# Every call that fails with EPERM, whatever its arguments (names an architecture lacks are skipped).
DENIED = (
    # namespaces and mounts: a new user namespace hands back every capability
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr",
    # large kernel attack surface that no test program needs
    "io_uring_setup", "io_uring_enter", "io_uring_register", "bpf", "perf_event_open", "userfaultfd",
    "modify_ldt", "uselib", "fanotify_init", "name_to_handle_at", "open_by_handle_at", "lookup_dcookie",
    # keyrings belong to the uid, which every box shares
    "keyctl", "add_key", "request_key",
    # other processes' memory and descriptors (the harness of a run keeps its secrets from the program it forks)
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp", "process_madvise",
    # host administration
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff",
    "acct", "quotactl", "quotactl_fd", "syslog", "vhangup", "iopl", "ioperm", "settimeofday", "clock_settime",
    "adjtimex", "clock_adjtime", "sethostname", "setdomainname",
)  # fmt: skip
# Calls numbered from here on were added after this table was reviewed: ENOSYS, which libc reads as an older kernel.
# x32 calls on x86_64 (numbers with bit 30 set) are far above it too.
FIRST_UNREVIEWED = 467
# Every CLONE_NEW* flag the legacy clone() accepts (NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET).
CLONE_NEW_MASK = 0x7E020000
PER_LINUX, PERSONALITY_QUERY = 0, 0xFFFFFFFF
# Socket families a program may open: AF_UNIX (multiprocessing), AF_INET, AF_INET6 (the box has only loopback).
# The rest (packet, alg, vsock, tipc, rds, ...) is where many kernel exploits have lived; they fail as unsupported.
SOCKET_FAMILIES = (1, 2, 10)

_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_RET_KILL_PROCESS, _RET_ERRNO, _RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
# Offsets in struct seccomp_data: nr, arch, then the low 32 bits of args[0] (little-endian only, checked below).
_NR, _ARCH, _ARG0 = 0, 4, 16


def host_arch() -> str:
    """The architecture of this interpreter's system calls, or UnsupportedArchitecture."""
    machine = os.uname().machine
    if machine not in ARCHES or ctypes.sizeof(ctypes.c_void_p) != 8 or sys.byteorder != "little":
        raise UnsupportedArchitecture(
            f"no seccomp table for {machine} ({8 * ctypes.sizeof(ctypes.c_void_p)}-bit, {sys.byteorder}-endian); "
            f"supported: {', '.join(ARCHES)} (64-bit little-endian)"
        )
    return machine


def program_filter(arch: str | None = None) -> bytes:
    """The filter as struct sock_filter[] bytes, ready for prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)."""
    table = ARCHES[arch or host_arch()]
    nrs = table.numbers
    code: list[tuple[int, int | str, int | str, int]] = [
        (_LD_ABS, 0, 0, _ARCH),
        (_JEQ, 0, "kill", table.audit),
        (_LD_ABS, 0, 0, _NR),
        (_JGE, "enosys", 0, FIRST_UNREVIEWED),
        (_JEQ, "enosys", 0, nrs["clone3"]),  # its flags live in memory a filter cannot read; libc falls back
        (_JEQ, "clone", 0, nrs["clone"]),
        (_JEQ, "personality", 0, nrs["personality"]),
        (_JEQ, "socket", 0, nrs["socket"]),
        (_JEQ, "socket", 0, nrs["socketpair"]),
        *((_JEQ, "eperm", 0, nrs[name]) for name in DENIED if name in nrs),
        (_RET, 0, 0, _RET_ALLOW),
    ]
    labels = {"clone": len(code)}
    code += [(_LD_ABS, 0, 0, _ARG0), (_JSET, "eperm", 0, CLONE_NEW_MASK), (_RET, 0, 0, _RET_ALLOW)]
    labels["personality"] = len(code)
    # Reading the persona is harmless; changing it can turn off address randomisation or mark data executable.
    code += [(_LD_ABS, 0, 0, _ARG0), (_JEQ, "allow", 0, PER_LINUX), (_JEQ, "allow", "eperm", PERSONALITY_QUERY)]
    labels["socket"] = len(code)
    code.append((_LD_ABS, 0, 0, _ARG0))
    code += [(_JEQ, "allow", 0, family) for family in SOCKET_FAMILIES]
    code.append((_RET, 0, 0, _RET_ERRNO | errno.EAFNOSUPPORT))
    labels["allow"] = len(code)
    code.append((_RET, 0, 0, _RET_ALLOW))
    for label, action in (("eperm", _RET_ERRNO | errno.EPERM), ("enosys", _RET_ERRNO | errno.ENOSYS)):
        labels[label] = len(code)
        code.append((_RET, 0, 0, action))
    labels["kill"] = len(code)
    code.append((_RET, 0, 0, _RET_KILL_PROCESS))
    return b"".join(
        struct.pack("=HBBI", op, _offset(labels, jt, i), _offset(labels, jf, i), k)
        for i, (op, jt, jf, k) in enumerate(code)
    )


def _offset(labels: dict[str, int], target: int | str, at: int) -> int:
    """A jump's distance: instructions to skip after the one at ``at`` (BPF jumps only forward, at most 255)."""
    if isinstance(target, int):
        return target
    distance = labels[target] - at - 1
    if not 0 <= distance <= 255:
        raise ValueError(f"jump to {target} out of range at instruction {at}")
    return distance
