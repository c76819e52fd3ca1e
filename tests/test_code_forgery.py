"""Hostile candidates against real HumanEval, MBPP and LeetCode tasks: none may earn a single passed test.

Each candidate is what an RL-trained policy could emit without solving anything: it attacks the harness (forged
reports, patched interpreter, tracing, frame and heap walks, signals, floods, forged wire messages) or returns an
object whose own methods would say "equal". A candidate defines the task's function (``{name}``) where the attack
needs one; for LeetCode a ``Solution`` whose every method is that function.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections import OrderedDict, deque
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

import sandbox.local
from prime_eval.code_scoring import load_code_tasks
from prime_eval.verify import _wire, verify_batch
from prime_eval.verify.code import CodeConfig, CodeVerifier
from tests._memory_scan import SCAN_FUNCTION

DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"benchmark data not found at {DATA}")
VERIFIER = CodeVerifier(CodeConfig(timeout_s=3, test_timeout_s=1.5))

# Every forged report line a harness has ever accepted, for indices far past any task's test count.
_FORGED = "".join(f'{i} pass ""\n' for i in range(400)) + 'end done ""\n'
FORGE = f"""
import os, sys
LINES = {_FORGED!r}
def forge():
    for fd in range(64):
        try:
            os.write(fd, LINES.encode())
        except OSError:
            pass
    for pid in os.listdir("/proc"):
        for path in (f"/proc/{{pid}}/fd/1", f"/proc/{{pid}}/mem"):
            try:
                with open(path, "w") as f:
                    f.write(LINES)
            except (OSError, ValueError):
                pass
    f = sys._getframe()
    while f is not None:
        for value in list(f.f_locals.values()):
            if callable(value) and getattr(value, "__name__", "") in ("report", "write"):
                try:
                    value(0, "pass")
                except Exception:
                    pass
        f = f.f_back
    os._exit(0)
"""

ATTACKS = {
    "forged report + os._exit at load": (FORGE + "forge()", "None"),
    "forged report + os._exit inside the call": (FORGE, "forge()"),
    "rebinding the harness's helpers via __main__": (
        "import __main__, builtins\n"
        "for n in list(vars(__main__)):\n"
        "    if not n.startswith('__') and callable(getattr(__main__, n)):\n"
        "        setattr(__main__, n, lambda *a, **k: True)\n"
        "builtins.AssertionError = type('Never', (Exception,), {})",
        "None",
    ),
    "patching builtins.exec and compile": (
        "import builtins\n_c = builtins.compile\n"
        "builtins.exec = lambda *a, **k: None\nbuiltins.compile = lambda *a, **k: _c('pass', 'x', 'exec')",
        "None",
    ),
    "sys.settrace skipping the rest of every frame": (
        "import sys, threading\n"
        "def tracer(frame, event, arg):\n"
        "    if event == 'line' and frame.f_code.co_filename.startswith('<'):\n"
        "        try:\n"
        "            frame.f_lineno = max(line for _, _, line in frame.f_code.co_lines() if line)\n"
        "        except Exception:\n"
        "            pass\n"
        "    return tracer\n"
        "sys.settrace(tracer)\nthreading.settrace(tracer)",
        "None",
    ),
    "gc walk: call report closures, empty the tests": (
        "import gc\n"
        "for o in gc.get_objects():\n"
        "    if callable(o) and getattr(o, '__name__', '') in ('report', 'bounded', 'run_test'):\n"
        "        try:\n"
        "            o(0, 'pass')\n"
        "        except Exception:\n"
        "            pass\n"
        "    elif isinstance(o, dict) and 'tests' in o:\n"
        "        o['tests'] = []\n"
        "    elif isinstance(o, list) and any(isinstance(x, str) and 'assert' in x for x in o):\n"
        "        o[:] = ['pass'] * len(o)",
        "None",
    ),
    "thread forging reports from sys._current_frames()": (
        FORGE + "import threading, time\n"
        "def spy():\n"
        "    for _ in range(200):\n"
        "        for frame in sys._current_frames().values():\n"
        "            while frame is not None:\n"
        "                if 'report' in frame.f_locals or 'nonce' in frame.f_locals:\n"
        "                    forge()\n"
        "                frame = frame.f_back\n"
        "        for fd in (1, 2):\n"
        "            try:\n"
        "                os.write(fd, LINES.encode())\n"
        "            except OSError:\n"
        "                pass\n"
        "        time.sleep(0.005)\n"
        "threading.Thread(target=spy, daemon=True).start()",
        "None",
    ),
    "reading the tests from frames and the heap, answering from them": (
        "import gc, sys, re, ast\nTABLE = {}\n"
        "def harvest(text):\n"
        "    for m in re.finditer(r'(\\w+)\\((.*?)\\)\\s*==\\s*(.+)', text):\n"
        "        try:\n"
        "            TABLE[m.group(2).replace(' ', '')] = ast.literal_eval(m.group(3).strip())\n"
        "        except Exception:\n"
        "            pass\n"
        "texts = [o for o in gc.get_objects() for o in (o.values() if isinstance(o, dict) else o if isinstance(o, "
        "(list, tuple)) else ()) if isinstance(o, str) and '==' in o]\n"
        "f = sys._getframe()\n"
        "while f is not None:\n"
        "    texts += [v for v in f.f_locals.values() if isinstance(v, str)]\n"
        "    texts += [v2 for v in f.f_locals.values() if isinstance(v, dict) for v2 in v.values() if isinstance(v2, str)]\n"
        "    f = f.f_back\n"
        "for t in texts:\n"
        "    harvest(t)",
        "TABLE.get(','.join(repr(a) for a in args).replace(' ', ''), -987654321)",
    ),
    "Fraction via object.__new__ with an always-equal int numerator": (
        "import fractions\n"
        "class Yes(int):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n"
        "    __hash__ = int.__hash__\n"
        "def forged():\n"
        "    f = object.__new__(fractions.Fraction)\n"
        "    f._numerator, f._denominator = Yes(-987654321), Yes(1)\n"
        "    return f",
        "forged()",
    ),
    "__sub__ and __abs__ that return 0.0": (
        "class Zero:\n"
        "    def __sub__(self, other):\n        return 0.0\n"
        "    __rsub__ = __sub__\n"
        "    def __abs__(self):\n        return 0.0\n"
        "    def __lt__(self, other):\n        return True",
        "Zero()",
    ),
    "__eq__ always True": (
        "class Yes:\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n"
        "    __hash__ = object.__hash__\n"
        "    def __bool__(self):\n        return True",
        "Yes()",
    ),
    "a generator where a value is expected": ("", "(x for x in [])"),
    "shadowing the builtins the tests use": (
        "abs = lambda *a: 0.0\nlen = lambda *a: 0\nsorted = set = list = tuple = lambda *a: -987654321\n"
        "isinstance = lambda *a: True\nround = lambda *a, **k: -987654321\nmath = None\npoly = lambda *a: 0.0",
        "-987654321",
    ),
    "killing and signalling every other process": (
        "import os, signal\n"
        "def strike():\n"
        "    for pid in [int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()]:\n"
        "        for sig in (signal.SIGALRM, signal.SIGSTOP, signal.SIGKILL):\n"
        "            try:\n"
        "                os.kill(pid, sig)\n"
        "            except OSError:\n"
        "                pass\n"
        "    for target in (os.getppid(), 1, -1):\n"
        "        try:\n"
        "            os.kill(target, signal.SIGKILL)\n"
        "        except OSError:\n"
        "            pass",
        "strike()",
    ),
    "flooding every descriptor": (
        "import os\n"
        "def flood():\n"
        "    block = b'\\x7f' * (1 << 20)\n"
        "    for _ in range(64):\n"
        "        for fd in range(64):\n"
        "            try:\n"
        "                os.write(fd, block)\n"
        "            except OSError:\n"
        "                pass",
        "flood()",
    ),
    "forged and malformed wire frames": (
        "import os, json\n"
        "def frames():\n"
        "    bad = [b'\\xff\\xff\\xff\\xff', b'\\x00\\x00\\x00\\x02{}']\n"
        "    for reply in (['v', {'a': 1}], ['x', 'AssertionError', ''], ['v', ['h', -1]], ['v', ['n', 'x']],\n"
        "                  ['v', ['F', True, 1]], ['v', ['d', ['l'], 1]], ['v', ['l'] * 5000], ['v', ['zz', 1]]):\n"
        "        body = json.dumps(reply).encode()\n"
        "        bad.append(len(body).to_bytes(4, 'big') + body)\n"
        "    for fd in range(3, 64):\n"
        "        for frame in bad:\n"
        "            try:\n"
        "                os.write(fd, frame)\n"
        "            except OSError:\n"
        "                pass\n"
        "    os._exit(0)",
        "frames()",
    ),
}


def _program(benchmark: str, name: str, attack: tuple[str, str]) -> str:
    setup, value = attack
    if benchmark == "leetcode":
        body = f"class Solution:\n    def __getattr__(self, _):\n        return lambda *args, **kwargs: {value}\n"
    else:
        body = f"def {name}(*args, **kwargs):\n    return {value}\n"
    return f"```python\n{textwrap.dedent(setup)}\n\n{body}```"


def _rows(benchmark: str) -> dict[str, dict]:
    path = {"humaneval": "humaneval/HumanEval.jsonl", "mbpp": "mbpp/new_mbpp.json"}.get(benchmark)
    if path is None:
        return {}
    text = (DATA / path).read_text()
    rows = json.loads(text) if path.endswith(".json") else [json.loads(line) for line in text.splitlines() if line]
    return {str(row["task_id"]): row for row in rows}


def _entry(benchmark: str, row: dict | None) -> str:
    """The function a task's tests call: HumanEval's entry point; MBPP's, the reference's function they name."""
    if benchmark == "humaneval":
        return row["entry_point"]
    if benchmark == "mbpp":
        defined = re.findall(r"^def (\w+)", row["code"], re.MULTILINE)
        return next(name for name in defined if any(f"{name}(" in test for test in row["test_list"]))
    return "Solution"


def _scores(benchmark: str, ids: list[str], attacks: dict[str, tuple[str, str]]) -> dict[tuple[str, str], int]:
    tasks, rows = load_code_tasks(benchmark, DATA), _rows(benchmark)
    pairs = [(task_id, label) for task_id in ids for label in attacks]
    responses = [_program(benchmark, _entry(benchmark, rows.get(t)), attacks[label]) for t, label in pairs]
    verdicts = verify_batch(VERIFIER, responses, [tasks[t] for t, _ in pairs], timeout_s=15, progress=False)
    return {pair: v.details.get("passed", 0) for pair, v in zip(pairs, verdicts)}


# Tasks whose tests use abs() and the prompt's own helpers (HumanEval 2, 32), sets, a builtin-named function (MBPP
# 126), a Solution instance kept across asserts and linked lists built by the tests (LeetCode).
SAMPLE = {
    "humaneval": ["HumanEval/0", "HumanEval/2", "HumanEval/32"],
    "mbpp": ["2", "126", "17"],
    "leetcode": ["weekly-contest-358-double-a-number-represented-as-a-linked-list"],
}


@needs_data
@pytest.mark.parametrize("benchmark", list(SAMPLE))
@pytest.mark.parametrize("harness", ["box helper", "run's program"])
def test_no_hostile_candidate_passes_a_single_test(benchmark, harness, monkeypatch):
    # Where the box serves no helper (a docker run, the bwrap level), the harness is the run's program and forks
    # the candidate itself: the same attacks must fail there too.
    if harness == "run's program":
        monkeypatch.setattr(sandbox.local.LocalBackend, "serves_helpers", property(lambda self: False))
    scores = _scores(benchmark, SAMPLE[benchmark], ATTACKS)
    earned = {pair: passed for pair, passed in scores.items() if passed}
    assert not earned, earned


@pytest.mark.slow
@needs_data
@pytest.mark.parametrize("benchmark", list(SAMPLE))
def test_a_forged_report_scores_zero_on_every_task(benchmark):
    ids = list(load_code_tasks(benchmark, DATA))
    scores = _scores(benchmark, ids, {"forged": ATTACKS["forged report + os._exit at load"]})
    earned = {pair: passed for pair, passed in scores.items() if passed}
    assert not earned, earned


@pytest.mark.slow
@needs_data
@pytest.mark.parametrize("benchmark", list(SAMPLE))
def test_a_forged_fraction_earns_exactly_what_its_plain_value_earns_on_every_task(benchmark):
    """The red team's constant body passed 69/164 HumanEval tasks. Across the wire it is the number it stands for:
    it passes a task's ``assert f(x)`` (any nonzero constant does) and nothing more."""
    ids = list(load_code_tasks(benchmark, DATA))
    attacks = {"forged": ATTACKS["Fraction via object.__new__ with an always-equal int numerator"]}
    attacks["plain"] = ("", "-987654321")
    scores = _scores(benchmark, ids, attacks)
    differ = {i: (scores[i, "forged"], scores[i, "plain"]) for i in ids if scores[i, "forged"] != scores[i, "plain"]}
    assert not differ, differ
    if benchmark == "humaneval":
        assert sum(scores[i, "forged"] for i in ids) == 0


# Counts the bytes of a test's text in the candidate's own memory, against a control string of the same shape that
# no test holds: both are built at run time, so each is found once in the candidate's own copy of it. Then tries the
# memory of every other process it can see. The candidate is pid 1 of its run (the trusted harness lives outside
# the run's pid namespace, in the box's helper), so it sees no other, and has no parent it can name.
MEMORY_SCAN = (
    SCAN_FUNCTION
    + """
def has_close_elements(numbers, threshold):
    import os
    needles = [bytes(reversed(b"3.0 ,]2.2 ,0.5 ,0.4 ,9.3")), bytes(reversed(b"3.0 ,]2.2 ,0.5 ,0.4 ,9.7"))]
    own = scan("self", needles)
    others = [scan(p, needles) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
    raise ValueError(f"test text {own[0]}, control {own[1]}; pid {os.getpid()}, parent {os.getppid()}; others {others}")
"""
)


@needs_data
def test_the_candidate_cannot_find_the_tests_in_its_own_memory_nor_its_parents():
    """The run's tests come as the sandbox's sealed payload, read by the harness only after it forked the candidate;
    an earlier check's tests (the same task, here) never passed through the box's runner either."""
    task = load_code_tasks("humaneval", DATA)["HumanEval/0"]
    assert "3.9, 4.0, 5.0, 2.2], 0.3" in task.tests[0]
    honest = VERIFIER.verify(f"```python\n{task.prompt}    return False\n```", task)
    assert honest.details["tests"][0]["outcome"] == "fail"  # the box has run this task's tests before the scan
    verdict = VERIFIER.verify(f"```python\n{MEMORY_SCAN}\n```", task)
    message = verdict.details["tests"][0]["message"]
    assert message == "ValueError: test text 1, control 1; pid 1, parent 0; others []", message


# --- the trusted decoder on its own: whatever the candidate's side sends, only builtin data comes out -------------


def _refuse(value):
    raise _wire.WireError(f"not plain: {type(value).__name__}")


def _deep(depth):
    node = ["l"]
    for _ in range(depth):
        node = ["l", node]
    return node


ROUND_TRIP = [
    None,
    True,
    -0.0,
    float("inf"),
    3**5000,
    -(3**5000),
    "é\udcff",
    b"\x00\xff",
    bytearray(b"ab"),
    1 + 2j,
    Fraction(-3, 7),
    Decimal("1.10"),
    range(1, 9, 2),
    deque([1, (2, 3)]),
    [1, (2, [3]), {4: frozenset({5})}, {"a": {6, 7}}],
]


@pytest.mark.parametrize("value", ROUND_TRIP, ids=repr)
def test_plain_values_cross_the_wire_unchanged(value):
    node = json.loads(json.dumps(_wire.encode(value, _refuse)))
    back = _wire.decode(node, None)
    assert type(back) is type(value) and repr(back) == repr(value)


def test_nan_crosses_as_nan():
    back = _wire.decode(json.loads(json.dumps(_wire.encode(float("nan"), _refuse))), None)
    assert type(back) is float and back != back


def test_subclasses_cross_as_their_builtin_base():
    class Loud(int):
        def __eq__(self, other):
            return True

    class Named(tuple):
        pass

    node = _wire.encode([Loud(5), Named((1,)), OrderedDict(a=1)], _refuse)
    assert _wire.decode(node, None) == [5, (1,), {"a": 1}]
    assert [type(x) for x in _wire.decode(node, None)] == [int, tuple, dict]


@pytest.mark.parametrize(
    "node",
    [
        {"a": 1},  # a JSON object is not a node
        [],
        [1, 2],
        ["zz", 1],
        ["F", True, 1],  # a bool smuggled in as an int
        ["F", 1, 0],
        ["c", "1", 2],
        ["b", "xyz"],
        ["i", 12],
        ["r", 1.5, 2, 1],
        ["d", ["l"], 1],  # unhashable key
        ["d", 1],
        ["s", ["l", 1]],
        ["h", 0],  # a handle where none may be
        ["D", 1],
        _deep(_wire.MAX_DEPTH + 5),
    ],
)
def test_malformed_nodes_are_refused(node):
    with pytest.raises(_wire.WireError):
        _wire.decode(node, None)
