"""Test harness that runs *inside the sandbox*, around the candidate program. Standard library only.

It is shipped as program text (``code_tests.HARNESS_PROGRAM``, this file plus a ``_main()`` call), so it must not
import anything from prime; what to test comes in a ``.config`` file (``code_tests.harness_config``), so that the
program text, the same for every check, is compiled once per sandbox box. How it keeps a pass earned:

- each test's outcome is reported on a duplicate of the original stdout, as a line that starts with a nonce read
  from a file the harness deletes (with its source and config) before any candidate code runs; the candidate's stdout
  goes to /dev/null. Exiting early, ``os._exit(0)``, atexit hooks or a killed parent leave tests unreported, and
  an unreported test counts as failed;
- every comparison in the test code (``==``, ``<``, ``in``, ...) and every bare ``assert x`` goes through a guard
  that accepts only values built from builtin types (and a few C-implemented stdlib ones), so an object whose
  ``__eq__`` or ``__bool__`` always says yes fails instead;
- the tests run in a copy of the candidate's namespace, so rebinding globals from inside a candidate function does
  not reach the guards.

It does not stop a program written to dig the nonce out of the harness's frames; the sandbox still contains it.
"""

import builtins
import collections
import decimal
import fractions
import operator
import os
import re
import signal


class _TestTimeout(BaseException):
    """Derived from BaseException so that a candidate's ``except Exception`` does not swallow it."""


_SCALARS = frozenset(
    {
        int,
        float,
        complex,
        str,
        bytes,
        bytearray,
        bool,
        type(None),
        range,
        slice,
        type,
        type(...),
        type(re.match("", "")),
    }
)
_SEQUENCES = frozenset({list, tuple, set, frozenset, collections.deque})
_MAPPINGS = frozenset({dict, collections.OrderedDict, collections.defaultdict})
# Pure-Python classes are trusted only while their comparison methods are the ones the harness started with.
_COMPARE = ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__", "__bool__", "__len__")
_SNAPSHOT = {
    cls: {name: getattr(cls, name, None) for name in _COMPARE} for cls in (collections.Counter, fractions.Fraction)
}
_OPS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": lambda a, b: a in b,
    "not in": lambda a, b: a not in b,
}


def _intact(cls):
    return all(getattr(cls, name, None) is method for name, method in _SNAPSHOT[cls].items())


def _plain(value):
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _SCALARS or kind is decimal.Decimal:
            continue
        if kind is fractions.Fraction and _intact(kind):
            continue
        if kind in _MAPPINGS or (kind is collections.Counter and _intact(kind)):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif kind in _SEQUENCES:
            stack.extend(item)
        else:
            return False
    return True


def _reject(value):
    raise AssertionError(f"compared a value of non-builtin type {type(value).__qualname__}")


def _cmp(left, op, right):
    for value in (left, right):
        if not _plain(value):
            _reject(value)
    return _OPS[op](left, right)


def _chain(left, *rest):
    for op, thunk in rest:
        right = thunk()
        if not _cmp(left, op, right):
            return False
        left = right
    return True


def _truth(value):
    if not _plain(value):
        _reject(value)
    return value


def _on_alarm(signum, frame):
    raise _TestTimeout


def _main():
    json = __import__("json")
    write, dumps = os.write, json.dumps
    with open(".nonce") as f:
        nonce = f.read().strip()
    with open(".config", "rb") as f:
        config = json.loads(f.read())
    # Before any candidate code runs: the nonce, and the tests in the config, must not be readable by it.
    os.unlink(".nonce")
    os.unlink(".config")
    os.unlink(__file__)
    report_fd = os.dup(1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    signal.signal(signal.SIGALRM, _on_alarm)
    limit = config["test_timeout_s"]

    def report(index, outcome, message=""):
        write(report_fd, f"{nonce} {index} {outcome} {dumps(message[:500])}\n".encode())

    def guarded(source, name, namespace):
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            exec(compile(source, name, "exec"), namespace)
            return "pass", ""
        except _TestTimeout:
            return "timeout", f"over {limit:g} s"
        except AssertionError as exc:
            return "fail", f"AssertionError: {exc}" if str(exc) else "assertion failed"
        except BaseException as exc:
            return "error", f"{type(exc).__name__}: {exc}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    namespace = {"__name__": "solution", "__builtins__": builtins}
    outcome, message = guarded(config["preamble"], "<preamble>", namespace)
    if outcome == "pass":
        outcome, message = guarded(config["program"], "solution.py", namespace)
    if outcome != "pass":
        report("load", outcome, message)
    else:
        tests_ns = dict(namespace, __prime_cmp__=_cmp, __prime_chain__=_chain, __prime_truth__=_truth)
        for index, test in enumerate(config["tests"]):
            outcome, message = guarded(test, f"<test {index}>", tests_ns)
            report(index, outcome, message)
            if outcome != "pass" and config["stop_on_first_failure"]:
                break
    report("end", "done")
    os._exit(0)  # skip the candidate's atexit hooks and thread joins: the report is complete
