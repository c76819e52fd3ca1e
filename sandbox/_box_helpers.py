"""Trusted helper processes of a box, for ``_box.py``'s runner; loaded by it (from beside it) at the first run that
names a helper. Standard library only.

A helper serves one preloaded module that asks for one (``_helper_main``): the code harness, which runs a check's
tests while the candidate is the run's program. It is forked from the runner before it serves anything, makes itself
non-dumpable, drops every capability and takes the seccomp filter, and then lives across runs in the box's own pid
namespace, outside every run's: no run's process can name it, signal it, or open it under /proc. A run that names
it gets no sealed payload: the helper does, with the run's stdout and two pipes to the run's program, the only way
between them. The helper says ``fresh`` for a new program (the runner kills the old one and forks a new one, in a
fresh pid, mount and ipc namespace, with new pipes), ``done`` at the end of the run, or ``last`` (done, and it exits:
it serves no other run). Programs are still forked from the runner, never from a helper, which holds every run's
tests it served; a helper that overruns the run's time or output, or dies, is killed, and the next run starts a new
one.
"""

import os
import resource
import signal
import socket
import sys
import time


class Helpers:
    """The live helpers of one box; ``box`` is the runner's module (``_box.py``)."""

    def __init__(self, box):
        self.box = box
        self.live = {}  # module name -> (pid, socket, the memory_mb of its address-space cap)

    def alive(self):
        return len(self.live)

    def _get(self, name, lim, fprog):
        if name in self.live:
            pid, _, memory_mb = self.live[name]
            if memory_mb == lim["memory_mb"] and os.waitpid(pid, os.WNOHANG) == (0, 0):
                return self.live[name]
            self.retire(name)  # it died between runs, or its address-space cap is another run's
        module = sys.modules.get(name)
        if module is None or not hasattr(module, "_helper_main"):
            raise ValueError(f"no preloaded helper {name!r}")
        box = self.box
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            try:
                box._prctl(box.PR_SET_DUMPABLE, 0, 0, 0, 0)
                os.dup2(theirs.fileno(), box.SEALED_FD)
                null = os.open(os.devnull, os.O_RDWR)
                for target in (0, 1, 2):
                    os.dup2(null, target)
                os.closerange(box.SEALED_FD + 1, 1 << 16)
                box._limit(resource.RLIMIT_AS, (lim["memory_mb"] << 20) + box.AS_SLACK)
                box._limit(resource.RLIMIT_CORE, 0)
                box._drop_privileges()
                box._confine(fprog)
                module._helper_main(box.SEALED_FD)
            finally:
                os._exit(70)
        theirs.close()
        self.live[name] = (pid, mine, lim["memory_mb"])
        return self.live[name]

    def retire(self, name):
        pid, sock, _ = self.live.pop(name)
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass  # reaped already
        sock.close()

    def serve(self, req, payload, out_w, output, err_w, failed_w, box_state):
        """One run of ``req["helper"]``: programs forked on its demand, the run's report when it is done."""
        name, lim = req["helper"], req["limits"]
        start = time.monotonic()
        try:
            _, sock, _ = self._get(name, lim, box_state["fprog"])
        except BaseException:
            os.close(out_w)
            raise
        program = _Program(self.box, req, payload, err_w, failed_w, box_state)
        said = None

        def on_message():
            nonlocal said
            message = sock.recv(16)
            if message != b"fresh":
                said = message or b"gone"
                return True
            program.end()
            _send(sock, b"fresh", program.start())
            return False

        stopped = None
        try:
            _send(sock, b"check", [*program.start(), out_w], lent=(payload.sealed,))
            stopped = self.box._io.serve_until(start + lim["wall_time_s"], sock, on_message, output)
        finally:
            if stopped or said != b"done":
                self.retire(name)  # first: it must not see (and report) the program's end as the program's doing
            program.end()
            program.close()
        output.drain()
        if said == b"gone":
            return {"error": f"the helper {name!r} died"}
        return {
            "exit_code": None if stopped else 0,
            "signal": int(signal.SIGKILL) if stopped else None,
            "stopped": stopped,
            **output.sizes(),
            "wall_s": time.monotonic() - start,
            "cpu_s": program.cpu,
            "peak_memory_bytes": program.peak,
        }


def _send(sock, message, fds, lent=()):
    """Hand ``lent`` (the helper gets copies; they stay open here), then ``fds`` (closed here) to the helper."""
    try:
        socket.send_fds(sock, [message], [*lent, *fds])
    finally:
        for fd in fds:
            os.close(fd)


class _Program:
    """The run's current program process, as the runner forks it for the helper: stdin the run's, stdout
    /dev/null, fds 3 and 4 the pipes from and to the helper."""

    def __init__(self, box, req, payload, err_w, failed_w, box_state):
        self.box, self.req, self.payload, self.box_state = box, req, payload, box_state
        self.failed_w = failed_w
        self.null = os.open(os.devnull, os.O_RDWR)
        self.stdio = (payload.stdin, self.null, err_w)
        self.pid = self.pidfd = None
        self.cpu, self.peak = 0.0, 0

    def start(self):
        """A new program; the helper's ends of its pipes."""
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        os.lseek(self.payload.stdin, 0, os.SEEK_SET)  # every program of the run reads the same stdin
        try:
            self.pid = self.box.fork_run(
                self.req,
                self.payload,
                self.stdio,
                (to_r, from_w),
                self.failed_w,
                self.box_state["workroot"],
                self.box_state,
            )
            self.pidfd = os.pidfd_open(self.pid)
        finally:
            os.close(to_r)
            os.close(from_w)
        return [to_w, from_r]

    def end(self):
        if self.pid is None:
            return
        signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        os.close(self.pidfd)
        _, _, usage = os.wait4(self.pid, 0)
        self.cpu += usage.ru_utime + usage.ru_stime
        self.peak = max(self.peak, usage.ru_maxrss * 1024)
        self.pid = self.pidfd = None

    def close(self):
        os.close(self.null)
