"""The test harness that runs *inside the sandbox*: trusted tests in one process, the candidate in another.

Shipped as program text behind ``_wire.py`` (``code_tests.HARNESS_PROGRAM``), so it imports nothing from prime.
A local box builds the same text once as a module in its runner (``code_tests.HARNESS_MODULE``). What to test (the
candidate's program, the prompt, the tests) comes as the run's sealed payload (``code_tests.harness_config``), which
the sandbox hands over without it ever passing through the memory of a process a candidate is forked from. Two
layouts, the same tests and the same wire:

    box helper (a local box at its namespaces level; ``_helper_main``):
      runner --fork--> harness helper (trusted: lives across runs, outside their pid namespaces; per run it gets
        |              the sealed payload, the run's stdout for the report and two pipes to the candidate)
        `--fork--> candidate = the run's program, pid 1 of its run (``_candidate_main``: loads the program from
                   the run's stdin, then serves calls; a fresh one, forked by the runner again, after a failure)

    run's program (a docker run, the bwrap level; ``_main``):
      harness = the run's program (trusted: the tests, every comparison, the report on stdout)
        `-- candidate (forked before the harness reads the tests; a fresh interpreter after a failure)

In both the candidate's stdio is /dev/null and it holds no descriptor but its two pipes.
The candidate never shares an interpreter with the tests. The harness calls it across the wire (``_wire.py``)
with plain data and gets plain data back; anything else the candidate returns stays there, and the tests see a
``Remote`` proxy that can be called, iterated and asked for attributes, but refuses ``==``, ordering, hashing and
arithmetic: no candidate object is ever compared by its own methods. The harness makes itself non-dumpable before
it forks the candidate, so another process of the same user cannot open its memory or descriptors under /proc, nor
ptrace it; the candidate holds neither the report descriptor nor the tests.

A call that overruns the per-test limit, a candidate that dies or sends a malformed message, fails that test and
the candidate process is killed; the next test gets a fresh one with the program loaded again. Handles of the
killed process are dead: tests that kept one (LeetCode's ``my_solution``) fail with an error.
"""

import builtins
import ctypes
import os
import signal
import sys

if __package__:  # imported by tests; in the box _wire.py's text comes first in the same program or module
    from ._wire import WireError, decode, encode, read_frame, write_frame

PR_SET_DUMPABLE = 4
_prctl = ctypes.CDLL(None).prctl  # looked up once: in a box that preloads this module, once per box
SEALED_FD = 3  # where the sandbox puts a run's sealed payload: this check's config (``code_tests.harness_config``)
_MAIN_CALL = "_main(__file__)"  # how HARNESS_PROGRAM ends; a fresh candidate interpreter runs the text before it
MESSAGE_CHARS = 300
# Builtin exceptions a candidate may raise through the wire as themselves, so that tests expecting one still work;
# AssertionError is not among them (a candidate must not choose what counts as a failed assert), nor anything
# outside Exception (StopIteration ends an iteration through a proxy and is handled there).
_RAISABLE = {
    name: cls
    for name, cls in vars(builtins).items()
    if isinstance(cls, type) and issubclass(cls, Exception) and cls not in (AssertionError, StopIteration)
}


class _TestTimeout(BaseException):
    """Derived from BaseException so that a test's ``except Exception`` does not swallow it."""


class CandidateError(Exception):
    """The candidate raised something the harness does not re-raise as itself."""


class CandidateLost(Exception):
    """The candidate process died, overran, or broke the protocol; it has been killed."""


def _on_alarm(signum, frame):
    raise _TestTimeout


# --- the candidate's process -------------------------------------------------------------------------------------


def _serve(requests, replies, sources=None):
    """Candidate side: load the program (``sources``, unasked, or when asked), then answer calls until the harness
    goes away. Everything here can be replaced by the candidate's own code once the program is loaded; the harness
    trusts none of it."""
    handles = []
    namespace = {"__name__": "solution", "__builtins__": builtins}

    def opaque(value):
        handles.append(value)
        return ["h", len(handles) - 1]

    def ref(tag, key):
        return handles[key] if tag == "h" else namespace[key]

    request = None if sources is None else ["load", *sources]
    while True:
        if request is None:
            try:
                request = read_frame(requests)
            except WireError:
                os._exit(0)
        try:
            reply = ["v", encode(_answer(request, namespace, ref), opaque)]
        except StopIteration:
            reply = ["x", "StopIteration", ""]
        except BaseException as exc:
            reply = ["x", type(exc).__name__, _describe(exc)]
        write_frame(replies, reply)
        request = None


def _answer(request, namespace, ref):
    op, args = request[0], request[1:]
    if op == "load":
        for source, name in zip(args, ("<preamble>", "solution.py")):
            exec(compile(source, name, "exec"), namespace)
        return _exports(namespace)
    target = decode(args[0], ref)
    if op == "call":
        call_args, call_kwargs = (decode(a, ref) for a in args[1:])
        return target(*call_args, **call_kwargs)
    if op == "attr":
        return getattr(target, args[1])
    if op == "item":
        return target[decode(args[1], ref)]
    if op == "next":
        return next(target)
    return {"iter": iter, "len": len, "bool": bool}[op](target)


def _exports(namespace):
    """Top-level names: plain values as themselves, anything else by name (its proxy resolves it at each use)."""
    out = {}
    for name, value in namespace.items():
        if name.startswith("__"):
            continue
        try:
            out[name] = ["v", encode(value, _not_plain)]
        except Exception:  # not plain data (or data whose own methods fail): the tests reach it by name
            out[name] = ["n"]
    return out


def _not_plain(value):
    raise WireError(type(value).__name__)


def _describe(exc):
    try:
        return str(exc)[:MESSAGE_CHARS]
    except BaseException:
        return "?"


def _close_all_but(keep):
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(null, target)
    low = 3
    for fd in sorted({null, *keep}):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 16)
    if null not in keep and null > 2:
        os.close(null)


# --- the harness ------------------------------------------------------------------------------------------------


class Candidate:
    """The harness's view of the candidate process: loads the program and makes calls; a process that overruns,
    dies or breaks the protocol is killed, and the next ``ensure`` starts a fresh one.

    The first process is forked before the harness reads the tests, and loads the program at once from the run's
    stdin (``code_tests.candidate_sources``: the preamble and the candidate's program, nothing else), while the
    harness reads the tests: one round trip fewer, and the two loads overlap. Later processes cannot be forked from
    the harness, which then holds the tests: each is a fresh interpreter (fork, then exec at once) running this
    program's code (the run's program file up to its last line, read only then: a candidate that rewrote the file
    chose the code of a process that is a candidate all the same), and is asked to load the program. That costs an
    interpreter start, paid only after a timeout or a crash."""

    def __init__(self, program_path=None, channel=None, ends=None):
        self.program_path = program_path
        # In a box's helper (``_helper_main``): the socket to the box's runner, which forks every candidate process
        # as a run's program (each loads the program from the run's stdin, unasked) and hands over its pipe ends.
        self.channel = channel
        self.pid = self.fds = None
        self.generation = 0
        self.sources = None
        if channel is None:
            self._start(fresh_interpreter=False)
        else:
            self._attach(None, ends)

    def _attach(self, pid, fds):
        self.pid, self.fds = pid, fds
        self.generation += 1

    def _start(self, fresh_interpreter):
        """A new candidate process; True when it loads the program unasked."""
        if self.channel is not None:
            self.channel.send(b"fresh")
            message, fds, _, _ = __import__("socket").recv_fds(self.channel, 16, 2)
            if message != b"fresh" or len(fds) != 2:
                raise CandidateLost("the box did not start a fresh candidate")
            self._attach(None, tuple(fds))
            return True
        server_source = self._server_source() if fresh_interpreter else None
        to_child, from_child = os.pipe(), os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                ends = (os.dup(to_child[0]), os.dup(from_child[1]))
                if fresh_interpreter:
                    for target, fd in ((3, ends[0]), (4, ends[1])):
                        os.dup2(fd, target)
                        os.set_inheritable(target, True)  # dup2 onto itself would keep close-on-exec
                    _close_all_but({3, 4})
                    os.execv(sys.executable, [sys.executable, "-I", "-S", "-B", "-c", server_source])
                sources = __import__("json").loads(_read_all(0))
                _close_all_but(set(ends))
                _serve(*ends, sources)
            finally:
                os._exit(0)
        os.close(to_child[0])
        os.close(from_child[1])
        self._attach(pid, (to_child[1], from_child[0]))
        return not fresh_interpreter

    def _server_source(self):
        fd = os.open(self.program_path, os.O_RDONLY)
        try:
            text = _read_all(fd).decode()
        finally:
            os.close(fd)
        return text[: text.rindex(_MAIN_CALL)] + "_serve(3, 4)\n"

    def ensure(self, preamble=None, program=None):
        """The program (remembered for later processes) loaded into a live candidate; the names it defines (see
        ``_exports``) when this call loaded it, else None. The first process loaded it unasked: only its answer
        is read."""
        if program is not None:
            self.sources = (preamble, program)
            if self.fds is not None:
                return self.request("load", send=False)
        elif self.fds is not None:
            return None
        if self._start(fresh_interpreter=True):
            return self.request("load", send=False)
        return self.request("load", *self.sources)

    def request(self, *message, send=True):
        if self.fds is None:
            raise CandidateLost("the candidate process was killed by an earlier failure")
        try:
            if send:
                write_frame(self.fds[0], list(message))
            outcome, value = self._reply(read_frame(self.fds[1]), message[0])
        except (WireError, OSError) as exc:
            self.kill()
            raise CandidateLost(f"the candidate broke the protocol or died: {exc}") from None
        except BaseException:
            self.kill()  # interrupted (the test's time is up): out of step, its answer may still come
            raise
        if outcome == "x":
            raise value
        return value

    def _reply(self, reply, op):
        if type(reply) is list and len(reply) == 2 and reply[0] == "v":
            return "v", decode(reply[1], self._ref)
        if type(reply) is list and len(reply) == 3 and reply[0] == "x" and _all_str(reply):
            return "x", _raised(reply[1], reply[2], op)
        raise WireError("malformed reply")

    def _ref(self, tag, key):
        if tag != "h":
            raise WireError("the candidate sent a name reference")
        return Remote(self, ["h", key], self.generation)

    def kill(self, reap=True):
        """Without ``reap``, the harness does not wait for the process to go: at the end of the run, where the
        run's own teardown (the harness's exit as pid 1, or the kill of the process group) reaps it. In a helper,
        the box's runner kills the process when it forks the next one or the run ends."""
        if self.fds is not None and self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                if reap:
                    os.waitpid(self.pid, 0)
            except OSError:
                pass
        if self.fds is not None:
            for fd in self.fds:
                os.close(fd)
        self.pid = self.fds = None


def _all_str(items):
    return all(type(item) is str for item in items)


def _raised(name, message, op):
    # StopIteration ends an iteration only where one was asked for: out of a call it would silently end the
    # trusted loop around it (``all(map(candidate, inputs))`` would pass on an empty run).
    if name == "StopIteration" and op == "next":
        return StopIteration()
    try:
        return _RAISABLE[name](message)
    except (KeyError, TypeError):  # not a builtin exception, or one that is not built from a message
        return CandidateError(f"{name}: {message}")


def _refuse(self, *args):
    raise TypeError(f"{self!r} is not plain data: it cannot be compared, hashed or computed with")


class Remote:
    """An object that lives in the candidate's process. Every use is a round trip that returns plain data (or
    another ``Remote``); comparing, hashing or computing with it raises, so a test that does fails."""

    __slots__ = ("_candidate", "_target", "_generation")
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _refuse
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __pow__ = __rpow__ = __neg__ = __abs__ = _refuse
    __index__ = __int__ = __float__ = __complex__ = __round__ = _refuse
    __hash__ = None

    def __init__(self, candidate, target, generation):
        object.__setattr__(self, "_candidate", candidate)
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_generation", generation)

    def _request(self, op, *args):
        candidate = object.__getattribute__(self, "_candidate")
        generation = object.__getattribute__(self, "_generation")
        if generation is not None and generation != candidate.generation:
            raise CandidateLost("this object belonged to a candidate process that was killed")
        return candidate.request(op, object.__getattribute__(self, "_target"), *args)

    def __call__(self, *args, **kwargs):
        return self._request("call", _send(list(args)), _send(kwargs))

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._request("attr", name)

    def __setattr__(self, name, value):
        raise TypeError("a candidate's object cannot be changed from the tests")

    def __getitem__(self, key):
        return self._request("item", _send(key))

    def __iter__(self):
        iterator = self._request("iter")
        if type(iterator) is not Remote:
            raise TypeError("iter() of a candidate's object must be an iterator there")
        return iterator

    def __next__(self):
        return self._request("next")

    def __len__(self):
        return _checked(self._request("len"), int)

    def __bool__(self):
        # The candidate decides, as it decides any value it returns; the answer is a real bool, asked once.
        return _checked(self._request("bool"), bool)

    def __repr__(self):
        return f"<candidate object {object.__getattribute__(self, '_target')}>"


def _checked(value, kind):
    if type(value) is not kind:
        raise TypeError(f"the candidate answered {type(value).__name__}, not {kind.__name__}")
    return value


def _send(value):
    return encode(value, _handle_of)


def _handle_of(value):
    if type(value) is Remote:
        return object.__getattribute__(value, "_target")
    raise TypeError(f"a {type(value).__qualname__} cannot be passed to the candidate: only plain data crosses")


def _read_all(fd):
    """A descriptor's bytes to its end, without the io stack: each page of the interpreter this run touches is
    copied."""
    chunks = []
    while chunk := os.read(fd, 1 << 16):  # a bigger buffer is a fresh mapping, each page of it a fault
        chunks.append(chunk)
    return b"".join(chunks)


def _main(program_path):
    """The harness as a run's program: it forks the candidate process itself."""
    json = __import__("json")
    # Before the candidate exists, since it runs its code as soon as it is forked: from then on no process of the
    # box's uid may open this one's descriptors (fd 3) or memory under /proc. (The box has already done so for a
    # run with a sealed payload; this does not depend on it.)
    if _prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError("prctl(PR_SET_DUMPABLE) failed")
    # Then, before the tests are read: the candidate process is a copy of one that never held them (the sandbox
    # keeps a run's sealed payload out of every process the run is forked from).
    candidate = Candidate(program_path)
    config = json.loads(_read_all(SEALED_FD))
    os.close(SEALED_FD)
    signal.signal(signal.SIGALRM, _on_alarm)
    _check(config, candidate, 1)
    candidate.kill(reap=False)
    os._exit(0)


def _helper_main(channel_fd):
    """The harness as a box's helper (``sandbox/_box.py``, ``_Helpers``): it lives across runs, outside their pid
    namespaces, and serves one check per run; the run's program is the candidate (``_candidate_main``), forked by
    the box's runner, never by this process. What it gets per run over ``channel_fd``: the check's config (the
    run's sealed payload), the pipes to the candidate and the run's stdout, for the report. After a check in which
    a test ran out of time or memory (an exception raised wherever the trusted code was), it serves no more: the
    box starts a new helper for the next run."""
    socket, json = __import__("socket"), __import__("json")
    channel = socket.socket(fileno=channel_fd)
    signal.signal(signal.SIGALRM, _on_alarm)
    while True:
        message, fds, _, _ = socket.recv_fds(channel, 16, 4)
        if message != b"check" or len(fds) != 4:
            os._exit(0)
        config_fd, to_candidate, from_candidate, report_fd = fds
        try:
            config = json.loads(_read_all(config_fd))
            os.close(config_fd)
            candidate = Candidate(channel=channel, ends=(to_candidate, from_candidate))
            clean = _check(config, candidate, report_fd)
            candidate.kill()
        finally:
            os.close(report_fd)
        channel.send(b"done" if clean else b"last")
        if not clean:
            os._exit(0)


def _candidate_main():
    """A run's program when the harness is the box's helper: load the preamble and the candidate's program from
    stdin, then answer calls on fds 3 and 4, the pipes from and to the helper."""
    sources = __import__("json").loads(_read_all(0))
    _close_all_but({3, 4})
    _serve(3, 4, sources)


def _check(config, candidate, report_fd):
    """Run one check's tests against ``candidate``, report each on ``report_fd``; False if a test ran out of
    time or memory (raised inside whatever trusted code was running then: a helper then serves no more runs)."""
    json = sys.modules["json"]

    def report(index, outcome, message=""):
        os.write(report_fd, f"{index} {outcome} {json.dumps(message[:500])}\n".encode())

    limit = config["test_timeout_s"]
    timed_out = False

    def bounded(work, *args):
        nonlocal timed_out
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            work(*args)
            return "pass", ""
        except _TestTimeout:
            timed_out = True
            return "timeout", f"over {limit:g} s"
        except MemoryError as exc:  # raised wherever an allocation failed, trusted code included
            timed_out = True
            return "error", f"MemoryError: {exc}"
        except AssertionError as exc:
            return "fail", f"AssertionError: {exc}" if str(exc) else "assertion failed"
        except BaseException as exc:
            return "error", f"{type(exc).__name__}: {exc}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    trusted = {"__name__": "tests", "__builtins__": builtins}
    namespace = {}

    def load():
        # The trusted half first: the candidate is loading meanwhile.
        for source, name in ((config["preamble"], "<preamble>"), (config["prompt"], "<prompt>")):
            exec(compile(source, name, "exec"), trusted)
        exports = candidate.ensure(config["preamble"], config["program"])
        namespace.update(_test_namespace(exports, trusted, config["entry_point"], candidate))

    outcome, message = bounded(load)
    if outcome != "pass":
        report("load", outcome, message)
    else:

        def run_test(index, source):
            candidate.ensure()
            exec(compile(source, f"<test {index}>", "exec"), namespace)

        for index, test in enumerate(config["tests"]):
            outcome, message = bounded(run_test, index, test)
            report(index, outcome, message)
            if outcome != "pass" and config["stop_on_first_failure"]:
                break
    report("end", "done")
    return not timed_out


def _test_namespace(exports, trusted, entry_point, candidate):
    """The tests see the candidate's top-level names, except where trusted code (the preamble, a HumanEval prompt
    and its helpers) or a builtin has the name: a candidate cannot replace ``abs`` or the prompt's ``poly`` in
    the tests. The prompt's stub of the entry point is the exception: that one is the candidate's to define."""
    if type(exports) is not dict:
        raise CandidateError("the candidate did not report its names")
    namespace = dict(trusted)
    for name, export in exports.items():
        if type(name) is not str or name.startswith("__"):
            continue
        if name != entry_point and (name in trusted or hasattr(builtins, name)):
            continue
        if export == ["n"]:
            namespace[name] = Remote(candidate, ["n", name], None)
        elif type(export) is list and len(export) == 2 and export[0] == "v":
            namespace[name] = decode(export[1], None)
    return namespace
