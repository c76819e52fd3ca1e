"""The default backend: warm boxes under bubblewrap (Linux namespaces), cgroup caps and rlimits, no daemon.

Isolation levels, strongest first; ``auto`` takes the first that works here:

``namespaces``  bubblewrap gives the box its own user, pid, net, mount, ipc and uts namespaces, a read-only view of
                /usr and the Python install, and nothing else of the host; inside it each run gets a fresh pid,
                mount and ipc namespace and a fresh writable area of its own (see ``_box.py``).
``bwrap``       the same box, but runs share its pid namespace and /tmp (the kernel refused the per-run namespaces).
``rlimits``     no namespaces at all: rlimits, a private temporary directory and a scrubbed environment only. The
                program can read the host's files, use the network and signal the caller's processes. Said loudly.

Started as root, a box runs as ``SANDBOX_UID``, a uid no host user has, so that nothing in it is host root in the
kernel's eyes (``_launch.py``). At every level the program runs under a seccomp filter (``seccomp.py``) and with no
new privileges. Memory and process counts are capped by a cgroup per box where the v1 controllers are writable
(``cgroups.py``); the address-space rlimit is the backstop everywhere.
"""

from __future__ import annotations

import logging
import os
import queue
import select
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import cgroups, seccomp
from .execution import Execution, classify
from .limits import Limits
from .report import read_report
from .request import encode_preload, encode_request

log = logging.getLogger(__name__)

BOX_SCRIPT = Path(__file__).with_name("_box.py")
LAUNCH_SCRIPT = Path(__file__).with_name("_launch.py")
BOX_MODULES = tuple(Path(__file__).with_name(name) for name in ("_box_io.py", "_box_helpers.py"))
# Unprivileged, outside the ranges distributions give users and container tools give user namespaces, and below 2**31
# so that every tool reads it as a plain positive number. PRIME_SANDBOX_UID overrides it.
SANDBOX_UID = int(os.environ.get("PRIME_SANDBOX_UID", "2147000000"))
BOX_PATH_INSIDE = "/opt/prime/box.py"
WORK_INSIDE = "/work"
LEVELS = ("namespaces", "bwrap", "rlimits")
# Past the wall limit, how long the box's own watchdog may take to report before the box is killed as hung.
REPORT_GRACE_S = 5.0
START_TIMEOUT_S = 20.0
_warned: set[str] = set()
_warn_lock = threading.Lock()
# name -> source of the trusted modules every box builds once in its runner (``preload_module``).
_preloads: dict[str, str] = {}
_preload_lock = threading.Lock()


def preload_module(name: str, source: str) -> None:
    """Have every box of this process build module ``name`` from ``source`` in its runner, once, before its next
    run: runs then find it in ``sys.modules`` instead of building it themselves. ``source`` must be trusted code (it
    runs outside any run's confinement, in the process every run is forked from) holding no secret (every run can
    read it). Registering the same source again does nothing; another source under a taken name is refused."""
    with _preload_lock:
        if _preloads.setdefault(name, source) != source:
            raise ValueError(f"a different module is already preloaded as {name!r}")


class SandboxWeakWarning(RuntimeWarning):
    """The sandbox runs with weaker isolation than it was designed for."""


def _warn_once(level: str, message: str) -> None:
    with _warn_lock:
        if level in _warned:
            return
        _warned.add(level)
    banner = f"SANDBOX ISOLATION IS WEAKER THAN DESIGNED ({level}): {message}"
    log.warning(banner)
    warnings.warn(banner, SandboxWeakWarning, stacklevel=3)


def _python() -> str:
    return os.path.realpath(sys.executable)


def _system_view() -> list[str]:
    """bwrap arguments for the read-only part of the box: /usr, the merged-/usr links, the Python install."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    prefix = os.path.realpath(sys.base_prefix)
    if not prefix.startswith("/usr/") and prefix != "/usr":
        args += ["--ro-bind", prefix, prefix]
    return args


def bwrap_argv(level: str, python: str, seccomp_filter: bytes) -> list[str]:
    """The command that starts one box at ``level`` ('namespaces' or 'bwrap')."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise FileNotFoundError("bwrap")
    env = ["--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "LC_ALL", "C.UTF-8"]
    # Capabilities exist only inside the box's own user namespace, and the program drops them all before it runs.
    caps = ["--cap-drop", "ALL"]
    if level == "namespaces":
        caps += ["--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SETPCAP"]
    fs = [*_system_view(), "--ro-bind", str(BOX_SCRIPT), BOX_PATH_INSIDE]
    for module in BOX_MODULES:  # beside the box script, which loads them from there
        fs += ["--ro-bind", str(module), str(Path(BOX_PATH_INSIDE).with_name(module.name))]
    fs += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", WORK_INSIDE, "--chdir", WORK_INSIDE]
    work = WORK_INSIDE if level == "namespaces" else "/tmp"
    box = _box_command(python, BOX_PATH_INSIDE, work, seccomp_filter) + (["--ns"] if level == "namespaces" else [])
    # uid 0 inside (which is the launching uid outside): for any other, bubblewrap nests a second user namespace
    # to map it, and the runner, inside that one, could no longer setns back to the box's pid namespace.
    ids = ["--uid", "0", "--gid", "0"]
    return [bwrap, "--unshare-all", "--die-with-parent", "--new-session", *ids, *env, *caps, *fs, *box]


def _box_command(python: str, script: str, work: str, seccomp_filter: bytes) -> list[str]:
    return [python, "-I", "-S", "-B", script, "--work", work, "--seccomp", seccomp_filter.hex()]


def launch_argv(argv: list[str], python: str, as_uid: int | None) -> list[str]:
    """``argv`` behind the launcher, which joins the box's cgroups (so that no process of it is ever outside them)
    and, given ``as_uid``, starts it as that uid."""
    if as_uid is not None and not 0 < as_uid < 2**32 - 1:
        raise ValueError(f"the sandbox uid must be an unprivileged uid, got {as_uid}")
    options = [] if as_uid is None else ["--uid", str(as_uid)]
    return [python, "-I", "-S", "-B", str(LAUNCH_SCRIPT), *options, "--", *argv]


@dataclass(frozen=True)
class _BoxConfig:
    """What every box of a backend is started with."""

    python: str
    seccomp_filter: bytes
    tmp_root: str  # the rlimits level's host directory for its runs; unused by the others


class _Box:
    """One warm runner process and its control pipes."""

    def __init__(self, level: str, config: _BoxConfig, cgroup: cgroups.BoxCgroup | None, as_uid: int | None):
        self.cgroup = cgroup
        python = config.python
        if level == "rlimits":
            argv = _box_command(python, str(BOX_SCRIPT), config.tmp_root, config.seccomp_filter)
        else:
            argv = bwrap_argv(level, python, config.seccomp_filter)
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
        if cgroup is not None:
            env["PRIME_CGROUP_PROCS"] = " ".join(cgroup.procs_files)
        self.proc = subprocess.Popen(
            launch_argv(argv, python, as_uid),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        hello = self._read(START_TIMEOUT_S)
        if not hello or not hello.get("ready"):
            self.kill()
            raise RuntimeError(f"box did not start (exit status {self.proc.poll()})")
        self.idle = 0
        if cgroup is not None:
            self.idle = cgroup.idle = cgroup.processes()
        self.preloaded: set[str] = set()

    def preload(self) -> None:
        """Build the registered modules this box lacks. One that fails to build is logged and not tried again:
        runs then build it themselves, as they would in a box without preloading."""
        with _preload_lock:
            missing = {name: source for name, source in _preloads.items() if name not in self.preloaded}
        if not missing:
            return
        self.preloaded |= missing.keys()
        try:
            self.proc.stdin.write(encode_preload(missing))
            self.proc.stdin.flush()
        except OSError as exc:
            raise RuntimeError(f"the box refused its preload: {exc}") from None
        reply = self._read(START_TIMEOUT_S)
        if reply is None:
            raise RuntimeError("the box did not answer its preload")
        if reply.get("error"):
            log.warning("a box could not preload %s: %s", sorted(missing), reply["error"])

    def request(self, req: bytes, timeout: float) -> dict[str, Any] | None:
        """Send one request (``request.encode_request``) and wait for its report."""
        try:
            self.proc.stdin.write(req)
            self.proc.stdin.flush()
        except OSError:
            return None
        return self._read(timeout)

    def _read(self, timeout: float) -> dict[str, Any] | None:
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout

        def read_exact(n: int) -> bytes | None:
            buf = bytearray()
            while len(buf) < n:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    return None
                chunk = os.read(fd, n - len(buf))
                if not chunk:
                    return None
                buf += chunk
            return bytes(buf)

        return read_report(read_exact)

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, 9)
        except OSError:
            pass
        self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if self.cgroup is not None:
            self.cgroup.remove()


class LocalBackend:
    """Runs programs in up to ``workers`` warm boxes at once (default: one per core). Thread-safe."""

    name = "local"

    def __init__(self, workers: int | None = None, *, isolation: str = "auto", python: str | None = None):
        if isolation != "auto" and isolation not in LEVELS:
            raise ValueError(f"isolation must be 'auto' or one of {LEVELS}, got {isolation!r}")
        self.workers = workers or os.cpu_count() or 1
        self.python = python or _python()
        self._requested = isolation
        self._level: str | None = None
        self._use_cgroups: bool | None = None
        self._tmp_root = ""
        self._seccomp = b""
        self._box_uid: int | None = None
        self._slots: queue.LifoQueue[_Box | None] = queue.LifoQueue()
        for _ in range(self.workers):
            self._slots.put(None)
        self._setup_lock = threading.Lock()
        self._boxes: set[_Box] = set()
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner")

    @property
    def serves_helpers(self) -> bool:
        """Whether runs can name a helper (``run(helper=...)``): at the namespaces level only."""
        return self.isolation == "namespaces"

    @property
    def isolation(self) -> str:
        """The isolation level in force (probing for it on first use)."""
        self._setup()
        return self._level  # type: ignore[return-value]

    def _setup(self) -> None:
        with self._setup_lock:
            if self._level is not None:
                return
            self._seccomp = seccomp.program_filter()  # on an architecture it does not know, nothing starts
            self._use_cgroups = cgroups.available()
            candidates = LEVELS if self._requested == "auto" else (self._requested,)
            for level in candidates:
                if self._probe(level):
                    self._level = level
                    break
            else:
                raise RuntimeError(f"sandbox isolation {self._requested!r} is not available on this host")
            self._announce()

    def _probe(self, level: str) -> bool:
        if level != "rlimits" and shutil.which("bwrap") is None:
            return False
        # The rlimits level shares the host's files: there the caller's own uid is all there is to run as.
        uids = [SANDBOX_UID, None] if os.geteuid() == 0 and level != "rlimits" else [None]
        for uid in uids:
            if self._try(level, uid):
                self._box_uid = uid
                return True
        return False

    def _try(self, level: str, uid: int | None) -> bool:
        try:
            box = self._start_box(level, uid)
        except (OSError, RuntimeError) as exc:
            log.debug("isolation %s as uid %s unavailable: %s", level, uid, exc)
            return False
        raw = box.request(encode_request("print('ok')", limits=Limits()), START_TIMEOUT_S)
        good = bool(raw) and raw.get("stdout") == "ok\n"
        if good:
            self._boxes.add(box)
            self._slots.get()
            self._slots.put(box)
        else:
            log.debug("isolation %s as uid %s failed its probe: %s", level, uid, raw)
            box.kill()
        return good

    def _announce(self) -> None:
        if self._level == "bwrap":
            _warn_once(
                "bwrap",
                "the kernel refused per-run pid/mount namespaces: runs in one box share /tmp and a pid namespace, "
                "so a run can see files and processes a previous run left until its box is restarted.",
            )
        elif self._level == "rlimits":
            _warn_once(
                "rlimits",
                "bubblewrap is missing or user namespaces are disabled: programs run as YOUR user with rlimits only. "
                "They can read your files, use the network, and signal or outlive their run. "
                "Install bubblewrap (apt-get install bubblewrap) or use the docker backend.",
            )
        if self._level != "rlimits" and os.geteuid() == 0 and self._box_uid is None:
            _warn_once(
                "root-mapped",
                f"the box could not start as uid {SANDBOX_UID} (a user namespace for an unprivileged uid was "
                "refused), so it maps to host root: a program is host root to the kernel wherever a check looks at "
                "the uid alone. /proc/sys is read-only and the seccomp filter applies all the same.",
            )
        if not self._use_cgroups:
            _warn_once(
                "no-cgroups",
                "no writable memory/pids cgroup: memory is capped as address space (RLIMIT_AS) and the process "
                "count by RLIMIT_NPROC, which does not bind root.",
            )

    def _start_box(self, level: str, uid: int | None) -> _Box:
        # bwrap --die-with-parent fires when the *thread* that started it exits, so every box is started from
        # one long-lived thread rather than from whichever caller thread needed it.
        return self._spawner.submit(self._spawn, level, uid).result()

    def _spawn(self, level: str, uid: int | None) -> _Box:
        if level == "rlimits" and not self._tmp_root:
            self._tmp_root = _scratch_dir()
        cgroup = cgroups.BoxCgroup() if self._use_cgroups else None
        try:
            return _Box(level, _BoxConfig(self.python, self._seccomp, self._tmp_root), cgroup, uid)
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise

    def run(
        self,
        program: str,
        *,
        stdin: str | bytes | None = None,
        files: Mapping[str, str | bytes] | None = None,
        limits: Limits | None = None,
        sealed: str | bytes | None = None,
        helper: str | None = None,
    ) -> Execution:
        """``helper`` names a preloaded module (``preload_module``) that serves this run from a trusted process of
        the box, outside the run, which gets the sealed payload instead of the program; only at the namespaces
        level (``serves_helpers``)."""
        limits = limits or Limits()
        self._setup()
        if helper is not None and (not self.serves_helpers or helper not in _preloads):
            raise ValueError(f"helper {helper!r} needs a preloaded module and the namespaces level")
        req = encode_request(program, limits=limits, stdin=stdin, files=files, sealed=sealed, helper=helper)
        box = self._slots.get()
        try:
            if box is None:
                box = self._start_box(self._level, self._box_uid)  # type: ignore[arg-type]
                self._boxes.add(box)
            if len(box.preloaded) != len(_preloads):
                box.preload()
            if box.cgroup is not None:
                box.cgroup.apply(limits.memory_mb, limits.max_processes)
                box.cgroup.settle()
                oom_before = box.cgroup.oom_kills()
            raw = box.request(req, limits.wall_time_s + REPORT_GRACE_S)
            if raw is None:
                self._discard(box)
                box = None
                return Execution.sandbox_error("the box stopped answering and was killed", self._level or "")
            oom = box.cgroup is not None and box.cgroup.oom_kills() > oom_before
            if box.cgroup is not None:  # a helper process lives on between runs: not one a run left behind
                box.cgroup.idle = box.idle + raw.get("helpers", 0)
            return classify(raw, limits, oom_killed=oom, isolation=self._level or "")
        except (OSError, RuntimeError) as exc:
            if box is not None:
                self._discard(box)
                box = None
            return Execution.sandbox_error(f"{type(exc).__name__}: {exc}", self._level or "")
        finally:
            self._slots.put(box)

    def _discard(self, box: _Box) -> None:
        self._boxes.discard(box)
        box.kill()

    def close(self) -> None:
        """Stop every box. Call only when no run is in flight; a later run starts fresh boxes."""
        for box in list(self._boxes):
            self._discard(box)
        while not self._slots.empty():
            self._slots.get_nowait()
        for _ in range(self.workers):
            self._slots.put(None)
        if self._tmp_root:
            shutil.rmtree(self._tmp_root, ignore_errors=True)
            self._tmp_root = ""


def _scratch_dir() -> str:
    """A host directory for the rlimits level's runs, named for its owner, after removing those whose owner died
    without closing its backend (a pool worker ends with os._exit, which skips atexit)."""
    import tempfile

    prefix = "prime-sandbox-"
    for path in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        owner = path.name[len(prefix) :].split("-", 1)[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            shutil.rmtree(path, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-")
