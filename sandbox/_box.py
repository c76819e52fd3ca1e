"""The in-box runner: a warm interpreter that forks per run, inside the isolation. Standard library only.

It is started once per worker (by bubblewrap, a container, or a bare subprocess) and then serves requests: one
length-prefixed JSON frame in (and the run's payload after it), one report out (and the run's output after it);
``_box_io.py`` moves those bytes, ``_box_helpers.py`` runs trusted helper processes, both loaded from beside this
file. Starting a Python interpreter costs 25-80 ms, a fork about 1 ms, so the
interpreter start is paid once per worker instead of once per run.

Per run (``--ns``, when the box holds CAP_SYS_ADMIN inside its own user namespace):

    runner: unshare(pid) --fork--> run process (pid 1 of a fresh pid namespace); runner: setns back to its own
    run process: unshare(mount, ipc), one fresh tmpfs for the work dir, /tmp and /dev/shm, the rest of the tree
          read-only, fresh /proc with its kernel settings read-only; then it becomes the program: drops every
          capability, then no new privileges and the seccomp filter (built by seccomp.py, passed as --seccomp HEX)
    runner: watches it (wall time, output cap), kills it, reaps it, reports

What a run reads (stdin, files, the sealed payload) follows the request's JSON header on the control stream as
raw bytes, and what it writes comes back after the report's header: the runner moves both with ``splice`` between
its control pipes, the program's output pipes and memory files, so they never enter the memory of the runner, which
every process of every later run is forked from. Only the program text and the limits do. A run's sealed payload is
open on fd 3 (``SEALED_FD``) of the program, at its start. A program that keeps a secret from processes it starts
(the code harness keeps the tests from the candidate) forks them before reading it.

One fork per run, and it costs in proportion to the runner's memory (page tables copied at the fork, pages copied on
first write, all of it torn down at exit): that is most of a run's overhead, so the runner starts with -S (no site
hooks), imports nothing a run does not use, and does the watchdog's work itself rather than fork an init for it.

The program is pid 1 of its namespace: when it exits the kernel kills every process left there, and its mount and
ipc namespaces (the tmpfs and any SysV/POSIX IPC objects with them) go away, so runs see neither each other's files,
processes nor memory, and nothing a run wrote is charged to the next. As pid 1 it ignores signals it sent itself
for which it has no handler (``os.kill(os.getpid(), SIGKILL)`` does nothing; faults, the CPU limit and the runner's
kill still end it) and orphans of its children are reparented to it. Without ``--ns`` (rlimits-only fallback, or a
container that is itself the isolation) each run gets a fresh temporary directory and its process group is killed
at the end.

This file never runs untrusted code in the runner; only the program process does, after it has set its run up,
closed every descriptor it does not need and dropped its privileges. The runner runs trusted code of its backend's
besides: modules preloaded once per box (``preload``), so that a fixed helper program (the code verifier's test
harness) does not build its module in every run.
"""

# Imported here so that a run finds them already loaded: the fork shares them instead of each run paying for them.
import bisect  # noqa: F401
import collections  # noqa: F401
import ctypes
import decimal  # noqa: F401
import fcntl
import fractions  # noqa: F401
import functools  # noqa: F401
import gc
import heapq  # noqa: F401
import itertools  # noqa: F401
import math  # noqa: F401
import os
import re  # noqa: F401
import resource
import signal
import site
import stat
import string  # noqa: F401
import sys
import time
import traceback
import types
import typing  # noqa: F401

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWPID = 0x00020000, 0x08000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 0x1, 0x2, 0x4, 0x8, 0x20, 0x1000
MS_REC, MS_PRIVATE, MS_RELATIME, MNT_DETACH = 0x4000, 0x40000, 0x200000, 0x2
PR_SET_SECCOMP, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS, SECCOMP_MODE_FILTER = 22, 24, 28, 38, 2
PR_SET_DUMPABLE = 4
# NOROOT (+ locked) and NO_CAP_AMBIENT_RAISE (+ locked): uid 0 in the box can never regain capabilities.
SECUREBITS = 0x1 | 0x2 | 0x40 | 0x80
RUN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0"}
# Room for the interpreter's own mappings on top of the memory limit when it is enforced as address space.
AS_SLACK = 256 << 20
# Where each run's tmpfs is mounted while its parts are bound into place, then detached.
STAGE = "/opt/prime/run"
# Bound over themselves read-only in each run's fresh /proc, as bubblewrap does for the box's own.
PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus")
PROC_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC
# Where a run's program finds its sealed payload (see the module docstring).
SEALED_FD = 3

_libc = ctypes.CDLL(None, use_errno=True)


def _sibling(name):
    """A module of the runner's from beside this file (bound beside it in a box): the runner starts isolated (-I),
    without its own directory on the import path."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_io = _sibling("_box_io")
# Looked up (and the structures built) once here: every page a run's program touches after the fork costs a copy.
_prctl, _capset, _unshare, _setns, _libc_mount = _libc.prctl, _libc.capset, _libc.unshare, _libc.setns, _libc.mount
_umount2 = _libc.umount2


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_CAP_HEADER, _NO_CAPS = _CapHeader(0x20080522, 0), (_CapData * 2)()
_ZERO = ctypes.c_ulong(0)


def _check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data):
    enc = [None if x is None else x.encode() for x in (source, target, fstype, data)]
    _check(_libc_mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]), f"mount {target}")


def _remount_read_only(target):
    # A bind remount must repeat the flags the mount has (the kernel refuses to clear locked ones). The ST_* of
    # statvfs equal the MS_* of mount for all of them but relatime.
    have = os.statvfs(target).f_flag
    keep = have & (os.ST_NOSUID | os.ST_NODEV | os.ST_NOEXEC | os.ST_NOATIME | os.ST_NODIRATIME)
    keep |= MS_RELATIME if have & os.ST_RELATIME else 0
    _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, None)


def _fresh_tree(workroot, size):
    """This run's view: one tmpfs, capped at the run's disk budget, for everything it may write (the rest of the
    tree is read-only since the runner started). Called in init's new mount namespace, which takes the tmpfs with
    it when the run ends."""
    _mount("tmpfs", STAGE, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size}m,nr_inodes=4096,mode=0700")
    for part, target in (("work", workroot), ("tmp", "/tmp"), ("shm", "/dev/shm")):
        os.mkdir(os.path.join(STAGE, part), 0o700)
        _mount(os.path.join(STAGE, part), target, None, MS_BIND, None)
    _check(_umount2(STAGE.encode(), MNT_DETACH), "umount stage")
    _mount("proc", "/proc", "proc", PROC_FLAGS, None)
    # SysV segments then go with the last process attached to them, before init is reaped, rather than with the
    # ipc namespace, whose teardown is asynchronous: the next run gets their memory back in time.
    fd = os.open("/proc/sys/kernel/shm_rmid_forced", os.O_WRONLY)
    os.write(fd, b"1")
    os.close(fd)
    for name in PROC_READ_ONLY:
        path = "/proc/" + name
        try:
            _mount(path, path, None, MS_BIND, None)
        except FileNotFoundError:
            continue  # a kernel built without it
        _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | PROC_FLAGS, None)


def _drop_privileges():
    for cap in range(64):
        if _prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break  # EINVAL past the last capability the kernel knows
    _check(_prctl(PR_SET_SECUREBITS, SECUREBITS, 0, 0, 0), "securebits")
    _check(_capset(ctypes.byref(_CAP_HEADER), _NO_CAPS), "capset")


def _confine(fprog):
    """No new privileges (execve of a set-uid file grants nothing), then the seccomp filter: last, so that the
    runner's own setup is not subject to it."""
    _check(_prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), _ZERO, _ZERO, _ZERO), "no_new_privs")
    if fprog is not None:
        _check(
            _prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog), _ZERO, _ZERO), "seccomp"
        )


def _safe_path(root, rel):
    path = os.path.normpath(os.path.join(root, rel))
    if os.path.isabs(rel) or not path.startswith(root + os.sep):
        raise ValueError(f"file path must stay inside the work dir: {rel!r}")
    return path


def _limit(which, soft, hard=None):
    # A caller may already run under tighter limits (a verifier worker's address-space cap): never ask for more.
    _, current = resource.getrlimit(which)
    hard = soft if hard is None else hard
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(which, (soft, hard))


def _set_limits(lim, namespaces):
    cpu = max(1, int(lim["cpu_time_s"] + 0.999))
    # The soft limit's SIGXCPU is ignored by a pid 1 without a handler (the program, with namespaces): there the
    # kernel's SIGKILL at the hard limit must come at the limit itself.
    _limit(resource.RLIMIT_CPU, cpu, cpu if namespaces else cpu + 1)
    _limit(resource.RLIMIT_AS, (lim["memory_mb"] << 20) + AS_SLACK)
    _limit(resource.RLIMIT_FSIZE, lim["max_file_bytes"])
    _limit(resource.RLIMIT_NOFILE, lim["max_open_files"])
    _limit(resource.RLIMIT_CORE, 0)
    if not namespaces:
        # Counts every process of the user, and root is exempt: a weak stand-in for the pids cgroup.
        _limit(resource.RLIMIT_NPROC, lim["max_processes"])


def _program(req, workdir, stdio, passed, secret, namespaces, fprog):
    """The only process that runs untrusted code: ``stdio`` on fds 0-2, ``passed`` from fd 3 on (the sealed
    payload, or a helper's pipes), every other descriptor closed. Never returns."""
    code = 70
    try:
        os.setsid()
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        # Out of the way first, above where they go: a source may sit where another goes. (Not at a high fixed
        # number: a container's descriptor limit may be far lower.)
        parked = [fcntl.fcntl(fd, fcntl.F_DUPFD, SEALED_FD + len(passed)) for fd in passed]
        for i, fd in enumerate(parked):
            os.dup2(fd, SEALED_FD + i)
        os.closerange(SEALED_FD + len(passed), 1 << 16)
        os.chdir(workdir)
        # Non-dumpable while it set its run up: /proc/self then belongs to root, so dumpable again for the write.
        _prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        # If memory runs out, the program goes first, never the runner. (os-level I/O here and below: every page
        # this process touches before the program starts is copied from the runner's, and the io stack is big.)
        oom = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
        os.write(oom, b"1000")
        os.close(oom)
        if secret:
            # No other process of the box's uid may open its descriptors under /proc (fd 3 above all), nor its
            # memory once it has read the payload.
            _prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        _set_limits(req["limits"], namespaces)
        if namespaces:
            _drop_privileges()
        _confine(fprog)
        if os.environ["HOME"] != workdir:  # the runner set the environment once, for runs in its own work root
            os.environ.update(HOME=workdir, TMPDIR=workdir)
        path = os.path.join(workdir, "main.py")
        main = types.ModuleType("__main__")
        main.__file__ = path
        sys.modules["__main__"] = main
        sys.argv = [path]
        sys.path[0] = workdir
        code = 0
        try:
            exec(req.get("code") or compile(req["program"], path, "exec"), main.__dict__)
        except SystemExit as exc:
            code = _exit_code(exc)
        except BaseException as exc:
            # Skip this runner's own frame: the traceback should start in the program, as under ``python``.
            traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
            code = 1
        try:
            # As the interpreter's own shutdown does: join threads only if the program started any.
            if "threading" in sys.modules:
                sys.modules["threading"]._shutdown()
            import atexit

            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
    finally:
        os._exit(code)


def _exit_code(exc):
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    print(exc.code, file=sys.stderr)
    return 1


def _run(req, payload, stdio, passed, failed_w, workdir, box):
    """The forked process of one run: with --ns, pid 1 of the run's fresh pid namespace, which first makes the
    run's own mount and ipc namespaces and tree, then becomes the program. A failure of that setup is the box's,
    not the program's: its message goes to ``failed_w`` (closed with every other descriptor once the program
    starts). Never returns."""
    try:
        # Until the program starts: no other process of the box's uid (one an earlier run left behind, where runs
        # share a pid namespace) may open this one's memory or descriptors under /proc.
        _prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        os.umask(0o077)
        if box["namespaces"]:
            _check(_unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare")
            _fresh_tree(workdir, req["limits"]["disk_mb"])
        for rel, fd in payload.files:
            path = _safe_path(workdir, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            _io.copy_file(fd, path)
        _io.write_file(os.path.join(workdir, "main.py"), req["program"].encode())
    except BaseException as exc:
        try:
            os.write(failed_w, f"{type(exc).__name__}: {exc}".encode()[:4000])
        finally:
            os._exit(3)
    secret = payload.sealed is not None and not passed
    passed = passed or (() if payload.sealed is None else (payload.sealed,))
    _program(req, workdir, stdio, passed, secret, box["namespaces"], box["fprog"])


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def _watch(pid, output, lim, start):
    """Watch the program until it exits, overruns its wall time or its output cap (then kill it); the report
    header: how it ended, and how many bytes of each output follow it."""
    pidfd = os.pidfd_open(pid)
    try:
        stopped = _io.serve_until(start + lim["wall_time_s"], pidfd, lambda: True, output)
        if stopped:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    finally:
        os.close(pidfd)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - start
    output.drain()
    return {
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "stopped": stopped,
        **output.sizes(),
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_memory_bytes": usage.ru_maxrss * 1024,
    }


class _CompileCache:
    """Programs that come back (a verifier's fixed harness, one solution run on every input) are compiled once,
    here, and later runs inherit the code object. compile() runs no code, but a pathological source can crash the
    compiler, so only a source whose run ended without a signal is compiled here. Keyed by hash: the runner, which
    every run copies, does not keep the sources."""

    def __init__(self, entries=8, max_chars=1 << 16):
        self.entries, self.max_chars = entries, max_chars
        self.code = {}  # hash(source) -> code object, oldest first
        self.clean = {}  # hash(source) -> True once a run of it ended without a signal, oldest first

    def get(self, source, path):
        key = hash(source)
        code = self.code.get(key)
        if code is None and key in self.clean:
            try:
                code = compile(source, path, "exec")
            except Exception:
                del self.clean[key]  # it fails the same way in the run, which reports it
                return None
            self._put(self.code, key, code)
        return code

    def note(self, source, clean):
        if clean and len(source) <= self.max_chars:
            self._put(self.clean, hash(source), True)

    def _put(self, table, key, value):
        table.pop(key, None)
        table[key] = value
        while len(table) > self.entries:
            del table[next(iter(table))]


def preload(modules):
    """Trusted modules, {name: source}, executed here once and importable by that name in every later run of the
    box, which finds them already built (a run skips their module body). Only the backend's own code sends these
    (``local.preload_module``), never a program: they run in the runner, outside any run's confinement, and every
    run can read them. A name the runner already has is refused, so no module a run imports can be replaced."""
    done = []
    try:
        for name, source in modules.items():
            if name in sys.modules:
                raise ValueError(f"module {name!r} exists")
            module = types.ModuleType(name)
            exec(compile(source, f"<{name}>", "exec"), module.__dict__)
            sys.modules[name] = module
            done.append(name)
    except Exception as exc:
        return {"preloaded": done, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        gc.freeze()  # as at the start: no run's collector touches (and so copies) what was just built
    return {"preloaded": done}


def _helpers(box):
    """The box's helper processes (``_box_helpers.Helpers``, loaded from beside this file at first use)."""
    if box["helpers"] is None:
        box["helpers"] = _sibling("_box_helpers").Helpers(sys.modules[__name__])
    return box["helpers"]


def fork_run(req, payload, stdio, passed, failed_w, workdir, box):
    """Fork one program of a run (with --ns, pid 1 of a fresh pid namespace); its pid."""
    if box["namespaces"]:
        # This process stays where it is; its next child becomes pid 1 of a new pid namespace. The program is
        # that child: no init process between them, the runner watches it. Every fork of this interpreter costs a
        # copy of its page tables, and pages copied on first write in the child.
        _check(_unshare(CLONE_NEWPID), "unshare")
    try:
        pid = os.fork()
        if pid == 0:
            _run(req, payload, stdio, passed, failed_w, workdir, box)
    finally:
        if box["namespaces"]:
            # Point later children back at the box's own pid namespace, so that the next run can unshare again.
            _check(_setns(box["own_pid_ns"], CLONE_NEWPID), "setns")
    return pid


def serve_one(req, payload, ctrl_out, box):
    """One run: fork its program, watch it, send its report: the header frame, then its stdout and stderr bytes,
    relayed from memory files inside the kernel, never read here. A run that names a helper is served by
    ``helpers.serve`` instead."""
    namespaces, workroot = box["namespaces"], box["workroot"]
    if namespaces:  # the program's path is the same in every run only here
        req["code"] = box["cache"].get(req["program"], os.path.join(workroot, "main.py"))
    outputs = (os.memfd_create("stdout"), os.memfd_create("stderr"))
    pipes = [*os.pipe(), *os.pipe(), *os.pipe()]
    out_r, out_w, err_r, err_w, failed_r, failed_w = pipes
    workdir = workroot
    try:
        if req.get("helper"):
            pipes = [out_r, err_r, failed_r, err_w, failed_w]
            output = _io.Output((out_r, err_r), outputs, req["limits"]["max_output_bytes"])
            if not namespaces or not req["sealed"] or req["helper"] not in sys.modules:
                os.close(out_w)
                # The box's own refusal, for this run only (a preload that failed, say): the runner goes on.
                report = {"error": "a helper serves runs with a sealed payload, in a box with per-run namespaces"}
            else:
                report = _helpers(box).serve(req, payload, out_w, output, err_w, failed_w, box)
        else:
            if not namespaces:
                import tempfile  # loaded by main() in this mode only

                workdir = tempfile.mkdtemp(prefix="run-", dir=workroot)
            start = time.monotonic()
            pid = fork_run(req, payload, (payload.stdin, out_w, err_w), (), failed_w, workdir, box)
            payload.close()
            pipes = [out_r, err_r, failed_r]
            for fd in (out_w, err_w, failed_w):
                os.close(fd)
            # With --ns the program's exit kills whatever the run left in its pid namespace, before it is reaped.
            report = _watch(
                pid, _io.Output((out_r, err_r), outputs, req["limits"]["max_output_bytes"]), req["limits"], start
            )
            if not namespaces:
                _kill_group(pid)
                import shutil

                shutil.rmtree(workdir, ignore_errors=True)
        os.set_blocking(failed_r, False)
        try:
            failed = os.read(failed_r, 4096)
        except BlockingIOError:
            failed = b""
        if failed or "error" in report:
            _io.write_frame(ctrl_out, {"error": failed.decode(errors="replace") or report["error"]})
            return
        report["helpers"] = 0 if box["helpers"] is None else box["helpers"].alive()
        _io.write_frame(ctrl_out, report)
        for fd, size in zip(outputs, (report["stdout_bytes"], report["stderr_bytes"])):
            _io.move(fd, ctrl_out, size, box["bounce_out"], offset=0)
        box["cache"].note(req["program"], report["signal"] is None)
    finally:
        payload.close()
        for fd in (*outputs, *pipes):
            try:
                os.close(fd)
            except OSError:
                pass


def main(argv):
    namespaces = "--ns" in argv
    once = "--once" in argv
    workroot = argv[argv.index("--work") + 1]
    os.makedirs(workroot, exist_ok=True)
    own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY) if namespaces else None
    if namespaces:
        os.makedirs(STAGE, exist_ok=True)
        # Once here rather than in every run, whose mount namespace is a copy of this one: nothing mounted in a
        # run propagates anywhere, and nothing but the run's own tmpfs is writable.
        _mount("none", "/", None, MS_REC | MS_PRIVATE, None)
        for path in ("/", "/dev"):
            _remount_read_only(path)
    fprog = _seccomp_program(argv)
    if not namespaces:  # per-run work dirs need these; with --ns they stay out of the forked image
        import shutil  # noqa: F401
        import tempfile  # noqa: F401
    # Keep the control channel off fds 0/1 so a run's stdio is never confused with it.
    ctrl_in, ctrl_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    if sys.flags.no_site:
        # Started with -S: host .pth files and sitecustomize never run in the box and do not bloat the image every
        # run is forked from; programs still get the builtins and the import path that ``python`` gives them.
        site.setquit()
        site.sethelper()
        site.setcopyright()
        sys.path.extend(site.getsitepackages())
    os.environ.clear()
    # With --ns every run's work dir is the work root, so a run's program need not set these (about 0.25 ms and 80
    # page faults of each run, by the encoders and putenv it would touch).
    os.environ.update(RUN_ENV, HOME=workroot, TMPDIR=workroot)
    # The first compile in a process builds the interpreter's AST types (1-3 ms): once here, not in every run.
    compile("pass", "<warm-up>", "exec")
    # Everything loaded so far lives as long as the runner: keep the collector from touching (and so copying) it
    # in every forked run.
    gc.freeze()
    box = {
        "namespaces": namespaces,
        "workroot": workroot,
        "own_pid_ns": own_pid_ns,
        "fprog": fprog,
        "cache": _CompileCache(),
        "helpers": None,  # built at the first run that names a helper (``_box_helpers.py``)
        "bounce_out": _bounce_unless_pipe(ctrl_out),
    }
    bounce_in = _bounce_unless_pipe(ctrl_in)
    _io.write_frame(ctrl_out, {"ready": True, "pid": os.getpid(), "namespaces": namespaces})
    while True:
        req = _io.read_frame(ctrl_in)
        if req is None:
            return
        if "preload" in req:
            _io.write_frame(ctrl_out, preload(req["preload"]))
            continue
        # A payload cut short leaves the stream out of step: the runner exits and its backend starts a new box.
        serve_one(req, _io.Payload(req, ctrl_in, bounce_in), ctrl_out, box)
        if once:
            return


def _bounce_unless_pipe(fd):
    """A pipe to relay spliced bytes through when ``fd`` is not a pipe itself (see ``_move``)."""
    return None if stat.S_ISFIFO(os.fstat(fd).st_mode) else os.pipe()


def _seccomp_program(argv):
    """The struct sock_fprog of ``--seccomp HEX``, kept alive for the runner's life; None without the option (a
    container whose engine filters system calls itself)."""
    if "--seccomp" not in argv:
        return None
    code = bytes.fromhex(argv[argv.index("--seccomp") + 1])
    buf = ctypes.create_string_buffer(code, len(code))
    fprog = _SockFprog(len(code) // 8, ctypes.addressof(buf))
    fprog.buffer = buf
    return fprog


if __name__ == "__main__":
    main(sys.argv[1:])
