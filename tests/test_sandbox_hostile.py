"""Hostile programs against the box itself: host kernel settings, privileges, system calls, and state that could
outlive a run. Each attack runs inside the box; where it aims at the host, the host is checked afterwards."""

from __future__ import annotations

import grp
import os
import pwd
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import Limits, seccomp
from sandbox.local import LocalBackend

try:
    NRS = seccomp.ARCHES[seccomp.host_arch()].numbers
except seccomp.UnsupportedArchitecture as exc:  # where the sandbox refuses to start at all
    pytest.skip(str(exc), allow_module_level=True)
# A raw system call from inside: its result, or minus its errno.
SYSCALL = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def sc(nr, *args):
    r = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
    return r if r >= 0 else -ctypes.get_errno()
"""
EPERM, ENOSYS = 1, 38


@pytest.fixture(scope="module")
def box():
    backend = LocalBackend(workers=1)
    try:
        if backend.isolation != "namespaces":
            pytest.skip("bubblewrap with user namespaces is not available here")
        yield backend
    finally:
        backend.close()


def _run_ok(box, program: str, **kw) -> str:
    run = box.run(program, **kw)
    assert run.ok, (run.status, run.stdout, run.stderr)
    return run.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="a box started by an ordinary user is that user")
def test_box_uid_is_no_host_user(box):
    out = _run_ok(
        box, "print(open('/proc/self/uid_map').read().split()[1], open('/proc/self/gid_map').read().split()[1])"
    )
    uid, gid = map(int, out.split())
    assert uid != 0 and gid != 0, out
    with pytest.raises(KeyError):
        pwd.getpwuid(uid)
    with pytest.raises(KeyError):
        grp.getgrgid(gid)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root's boxes switch uid")
def test_a_refused_uid_switch_says_so_and_keeps_the_other_defences(box, monkeypatch):
    from sandbox import local

    real = local.launch_argv

    def refused(argv, python, as_uid):  # as a kernel that refuses unprivileged user namespaces would
        return ["/bin/false"] if as_uid is not None else real(argv, python, as_uid)

    monkeypatch.setattr(local, "launch_argv", refused)
    local._warned.discard("root-mapped")
    fallback = LocalBackend(workers=1)
    try:
        with pytest.warns(local.SandboxWeakWarning, match="maps to host root"):
            assert fallback.isolation == "namespaces"
        out = _run_ok(fallback, "print(open('/proc/self/status').read())")
        assert "Seccomp:\t2" in out and "NoNewPrivs:\t1" in out
    finally:
        fallback.close()


def test_host_kernel_settings_are_not_writable(box):
    before = Path("/proc/sys/kernel/core_pattern").read_bytes()
    # Opening for writing is the whole test: nothing is written, even where the open succeeds.
    program = """
import os
for path in ("/proc/sys/kernel/core_pattern", "/proc/sys/kernel/printk_delay", "/proc/sys/vm/drop_caches",
             "/proc/sysrq-trigger", "/proc/sys/net/ipv4/ip_forward"):
    try:
        os.close(os.open(path, os.O_WRONLY))
        print("OPENED", path)
    except OSError as exc:
        print(exc.strerror, path)
mounts = [line.split() for line in open("/proc/self/mountinfo")]
print({m[4]: m[5].split(",")[0] for m in mounts if m[4] in ("/proc/sys", "/proc/irq", "/proc/bus")})
"""
    out = _run_ok(box, program)
    assert "OPENED" not in out, out
    assert "{'/proc/sys': 'ro'," in out
    assert Path("/proc/sys/kernel/core_pattern").read_bytes() == before


def test_program_has_no_new_privileges_and_a_filter(box):
    status = _run_ok(box, "print(open('/proc/self/status').read())")
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["NoNewPrivs"].strip() == "1" and fields["Seccomp"].strip() == "2"
    assert fields["CapEff"].strip() == fields["CapBnd"].strip() == "0000000000000000"


# Each call, tried from inside the box, with the errno it must fail with (or the value it must give).
DANGEROUS_CALLS = [
    ("sc({unshare}, 0x10000000)", EPERM),  # CLONE_NEWUSER: capabilities again
    ("sc({setns}, 0, 0)", EPERM),
    ("sc({clone}, 0x10000000 | 0x200, 0, 0, 0, 0)", EPERM),  # NEWUSER|FS: invalid, so never forks unfiltered
    ("sc({clone3}, 0, 0)", ENOSYS),
    ("sc({mount}, 0, 0, 0, 0, 0)", EPERM),
    ("sc({fsopen}, 0, 0)", EPERM),
    ("sc({io_uring_setup}, 1, ctypes.addressof(ctypes.create_string_buffer(120)))", EPERM),
    ("sc({keyctl}, 0, -1, 0)", EPERM),
    ("sc({add_key}, 0, 0, 0, 0, 0)", EPERM),
    ("sc({bpf}, 0, 0, 0)", EPERM),
    ("sc({perf_event_open}, 0, 0, -1, -1, 0)", EPERM),
    ("sc({ptrace}, 0, 0, 0, 0)", EPERM),  # PTRACE_TRACEME
    ("sc({process_vm_readv}, os.getpid(), 0, 0, 0, 0, 0)", EPERM),
    ("sc({userfaultfd}, 0)", EPERM),
    ("sc({personality}, 0x0040000)", EPERM),  # ADDR_NO_RANDOMIZE
    ("sc({personality}, 0xFFFFFFFF) >= 0", True),  # reading it is fine
    ("sc({kcmp}, os.getpid(), os.getpid(), 0, 0, 0)", EPERM),
    ("sc({socket}, 38, 5, 0)", 97),  # AF_ALG: EAFNOSUPPORT
    ("sc({socket}, 40, 1, 0)", 97),  # AF_VSOCK
    ("sc({socketpair}, 16, 3, 0, 0)", 97),  # AF_NETLINK
]


@pytest.mark.parametrize(
    "call, expected",
    DANGEROUS_CALLS,
    ids=lambda v: v[4:].split("}")[0] if isinstance(v, str) else str(v),
)
def test_dangerous_system_calls_are_denied(box, call, expected):
    out = _run_ok(box, SYSCALL + f"print({call.format(**NRS)})")
    got = out.strip()
    assert got == str(expected) if expected is True else got == str(-expected), got


def test_honest_programs_keep_threads_processes_and_their_own_filters(box):
    """What solutions and the code harness use: threads, fork, subprocess, multiprocessing, pipes, signals to own
    children, a non-dumpable parent whose child cannot read it, unix and loopback sockets, and a stricter filter
    stacked on top."""
    program = (
        SYSCALL
        + f"""
import multiprocessing, signal, subprocess, threading, time
out = []
t = threading.Thread(target=out.append, args=("thread",)); t.start(); t.join()
out.append(subprocess.run(["/bin/sh", "-c", "echo sh"], capture_output=True, text=True).stdout.strip())
with multiprocessing.Pool(2) as pool:
    out.append(sum(pool.map(abs, [-1, -2])))
libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0, as the harness does
r, w = os.pipe()
child = os.fork()
if child == 0:
    parent = os.getppid()
    try:
        open(f"/proc/{{parent}}/mem", "rb").read(1)
        leak = "read parent memory"
    except OSError:
        leak = "no"
    os.write(w, f"{{leak}} {{sc({NRS["ptrace"]}, 16, parent, 0, 0)}}".encode())
    os._exit(0)
os.waitpid(child, 0)
out.append(os.read(r, 100).decode())
sleeper = subprocess.Popen(["/bin/sleep", "30"])
os.kill(sleeper.pid, signal.SIGKILL)
out.append(sleeper.wait())
out.append(sc({NRS["keyctl"]}, 0, -1, 0))
import socket
a, b = socket.socketpair()
a.send(b"u")
server = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(server.getsockname())
client.send(b"t")
out.append(b.recv(1).decode() + server.accept()[0].recv(1).decode())
print(out)
"""
    )
    assert _run_ok(box, program).strip() == "['thread', 'sh', 3, 'no -1', -9, -1, 'ut']"
    # The runner leaves seccomp() usable: a program (a harness) can add a stricter filter of its own.
    stricter = seccomp.program_filter()
    install = (
        SYSCALL
        + f"""
buf = ctypes.create_string_buffer({stricter!r}, {len(stricter)})
class P(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
prog = P({len(stricter) // 8}, ctypes.addressof(buf))
print(libc.prctl(22, ctypes.c_ulong(2), ctypes.byref(prog), ctypes.c_ulong(0), ctypes.c_ulong(0)))
print(open("/proc/self/status").read().split("Seccomp_filters:")[1].split()[0])
"""
    )
    assert _run_ok(box, install).split() == ["0", "2"]


def test_nothing_a_run_writes_is_seen_by_the_next(box):
    program = """
import ctypes, os
for path in ("/tmp/left", "/dev/shm/left", "/left", "/opt/prime/left", "/dev/left", "/proc/sys/left"):
    try:
        open(path, "w").write("x")
        print("WROTE", path)
    except OSError as exc:
        print(exc.strerror, path)
libc = ctypes.CDLL(None, use_errno=True)
print("shm", libc.shmget(0x5EED, 4096, 0o1600))  # IPC_CREAT | 0600: a SysV segment outlives its creator
"""
    first = _run_ok(box, program)
    assert [line.split()[-1] for line in first.splitlines() if line.startswith("WROTE")] == [
        "/tmp/left",
        "/dev/shm/left",
    ]
    second = _run_ok(
        box,
        "import os, ctypes\nprint(os.listdir('/tmp'), os.listdir('/dev/shm'), ctypes.CDLL(None).shmget(0x5EED, 0, 0))",
    )
    assert second.strip() == "[] [] -1"


# 200 MB left behind: in files under the per-file cap, or in a SysV segment nobody removes.
FILL_TMP = "block = b'x' * (10 << 20)\nfor i in range(20):\n    open(f'/tmp/fill{i}', 'wb').write(block)"
FILL_SHM = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
ctypes.memset(libc.shmat(libc.shmget(0x5EEF, 200 << 20, 0o1600), None, 0), 1, 200 << 20)
"""


@pytest.mark.parametrize("fill", [FILL_TMP, FILL_SHM], ids=["tmp-files", "sysv-segment"])
def test_what_a_run_leaves_does_not_eat_the_next_runs_memory(box, fill):
    if not box._use_cgroups:
        pytest.skip("no memory cgroup: tmpfs and shm pages are not charged to the box")
    limits = Limits(memory_mb=256, disk_mb=256)
    for _ in range(2):
        _run_ok(box, fill, limits=limits)
        run = box.run("x = bytearray(200 << 20)\nprint(len(x) >> 20)", limits=limits)
        assert run.ok and run.stdout == "200\n", (run.status, run.stderr)


def test_writable_space_is_capped_by_the_disk_budget(box):
    program = """
block = b'x' * (1 << 20)
written = 0
for path in ("/work/a", "/tmp/b", "/dev/shm/c"):
    try:
        with open(path, "wb") as f:
            for _ in range(16):
                f.write(block)
                written += 1
    except OSError:
        pass
print(written)
"""
    # One budget for the work dir, /tmp and /dev/shm together (less what the tmpfs needs for itself).
    assert 16 <= int(_run_ok(box, program, limits=Limits(disk_mb=24)).strip()) <= 24


def _leftover_child(tmp: Path, isolation: str) -> None:
    """A process that uses a backend and ends like a pool worker, with os._exit (no atexit, no close())."""
    code = (
        f"from sandbox.local import LocalBackend\nb = LocalBackend(workers=1, isolation={isolation!r})\n"
        "assert b.run('print(1)').stdout == '1\\n'\nimport os\nos._exit(0)"
    )
    env = {**os.environ, "TMPDIR": str(tmp)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60, cwd=Path(__file__).parents[1])


def test_no_host_scratch_dir_is_left_behind(box, tmp_path):
    _leftover_child(tmp_path, "namespaces")
    assert list(tmp_path.iterdir()) == []
    # The rlimits level needs one; the next backend removes those of owners that died.
    _leftover_child(tmp_path, "rlimits")
    (left,) = tmp_path.iterdir()
    _leftover_child(tmp_path, "rlimits")
    assert left not in list(tmp_path.iterdir())


# --- the filter itself, on every architecture it knows, through a small classic-BPF interpreter -------------------


def _decide(code: bytes, arch: int, nr: int, arg0: int = 0) -> int:
    data = struct.pack("<iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    insns = [struct.unpack("=HBBI", code[i : i + 8]) for i in range(0, len(code), 8)]
    pc, acc = 0, 0
    while True:
        op, jt, jf, k = insns[pc]
        if op == 0x20:
            acc = struct.unpack_from("<I", data, k)[0]
            pc += 1
        elif op == 0x06:
            return k
        else:
            hit = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[op]
            pc += 1 + (jt if hit else jf)


@pytest.mark.parametrize("name", sorted(seccomp.ARCHES))
def test_filter_decisions(name):
    arch = seccomp.ARCHES[name]
    code = seccomp.program_filter(name)
    nrs = arch.numbers
    allow, eperm, enosys, kill = 0x7FFF0000, 0x50001, 0x50026, 0x80000000
    assert _decide(code, arch.audit, nrs["clone"], 0x01200011) == allow  # fork as glibc does it
    assert _decide(code, arch.audit, nrs["clone"], 0x003D0F00) == allow  # a thread
    assert _decide(code, arch.audit, nrs["clone"], 0x10000011) == eperm  # CLONE_NEWUSER
    assert _decide(code, arch.audit, nrs["clone3"]) == enosys
    assert _decide(code, arch.audit, 0) == allow and _decide(code, arch.audit, 1) == allow
    for denied in seccomp.DENIED:
        if denied in nrs:
            assert _decide(code, arch.audit, nrs[denied]) == eperm, denied
    assert _decide(code, arch.audit, seccomp.FIRST_UNREVIEWED) == enosys
    assert _decide(code, arch.audit, 0x40000000 | 39) == enosys  # x32
    assert _decide(code, 0x40000003, 20) == kill  # i386 through int 0x80
    assert _decide(code, arch.audit, nrs["personality"], 0xFFFFFFFF) == allow
    assert _decide(code, arch.audit, nrs["personality"], 0x0040000) == eperm
    for family, decision in ((1, allow), (2, allow), (10, allow), (17, 0x50061), (38, 0x50061)):
        assert _decide(code, arch.audit, nrs["socket"], family) == decision
        assert _decide(code, arch.audit, nrs["socketpair"], family) == decision


def test_unknown_architecture_refuses_to_start(monkeypatch):
    monkeypatch.setattr(os, "uname", lambda: os.uname_result(("Linux", "h", "6", "#1", "riscv64")))
    with pytest.raises(seccomp.UnsupportedArchitecture, match="riscv64"):
        seccomp.program_filter()
    with pytest.raises(seccomp.UnsupportedArchitecture):
        LocalBackend(workers=1).run("print(1)")
