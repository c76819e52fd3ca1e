"""A run's payload (stdin, files, the sealed payload) and its output never pass through the memory of the box's
runner, which every later run is forked from: no run finds another's data, nor its own unread sealed payload, by
scanning its own memory."""

from __future__ import annotations

import hashlib
import json
import uuid

import sandbox
from sandbox import Limits
from tests._memory_scan import SCAN_FUNCTION
from tests.test_sandbox_local import any_level, box  # noqa: F401 -- sequential runs of its backend share one box

# What the program got on fd 3 and on stdin, as digests: the report carries text, the payloads are bytes.
ECHO = (
    "import hashlib, os, sys\nsealed = b''\nwhile chunk := os.read(3, 1 << 16):\n    sealed += chunk\n"
    "print(hashlib.sha256(sealed).hexdigest(), hashlib.sha256(sys.stdin.buffer.read()).hexdigest())\n"
)


def test_the_sealed_payload_is_on_fd_3_byte_for_byte_at_every_level(any_level):  # noqa: F811
    # Bigger than a pipe's buffer, and not UTF-8: it is moved as bytes, in pieces.
    sealed = bytes(range(256)) * 1024 + b"\xff end"
    run = any_level.run(ECHO, sealed=sealed, stdin=b"\x00in\xff")
    assert run.ok, run.stderr
    assert run.stdout.split() == [hashlib.sha256(sealed).hexdigest(), hashlib.sha256(b"\x00in\xff").hexdigest()]


def test_without_a_sealed_payload_fd_3_is_closed_and_files_arrive_whole(box):  # noqa: F811
    program = (
        "import os\ntry:\n    os.fstat(3)\n    print('open')\nexcept OSError:\n    print('closed')\n"
        "print(open('d/f.bin', 'rb').read() == bytes(range(256)) * 300, open('e.txt').read())\n"
    )
    run = box.run(program, files={"d/f.bin": bytes(range(256)) * 300, "e.txt": "é"})
    assert run.stdout == "closed\nTrue é\n", run.stderr


def test_a_sealed_program_can_fork_before_reading_it(box):  # noqa: F811
    """The pattern the code harness uses: a child forked first holds nothing of the payload."""
    program = (
        "import os\npid = os.fork()\nif pid == 0:\n    os.closerange(3, 4)\n"
        "    try:\n        os.read(3, 10)\n    except OSError:\n        os._exit(7)\n    os._exit(0)\n"
        "data = os.read(3, 100)\n_, status = os.waitpid(pid, 0)\nprint(data.decode(), os.waitstatus_to_exitcode(status))\n"
    )
    run = box.run(program, sealed="secret")
    assert run.stdout == "secret 7\n", run.stderr


# Counts each needle in this process's memory (it has no parent it can name: it is pid 1 of its run); the needles are
# stored reversed in the program text (which the runner holds) and built at run time, so each is found exactly once
# (its own copy) unless the data it stands for is in memory too.
SCAN = (
    SCAN_FUNCTION
    + """
import json, os
NEEDLES = [bytes(reversed(r)) for r in REVERSED_NEEDLES]
print(json.dumps([scan("self", NEEDLES), os.getpid(), os.getppid()]))
"""
)


def test_no_run_finds_an_earlier_runs_data_or_its_own_sealed_payload_in_memory(box):  # noqa: F811
    markers = {part: f"{part}-{uuid.uuid4().hex}" for part in ("sealed", "stdin", "file", "output", "mine", "control")}
    earlier = (
        "import os, sys\nos.read(3, 1000)\nsys.stdin.read()\nopen('f.txt').read()\n"
        f"print({markers['output'][::-1]!r}[::-1])\n"
    )
    first = box.run(earlier, sealed=markers["sealed"], stdin=markers["stdin"], files={"f.txt": markers["file"]})
    assert first.ok and markers["output"] in first.stdout, first.stderr
    needles = [markers[p].encode()[::-1] for p in ("sealed", "stdin", "file", "output", "mine", "control")]
    run = box.run(
        SCAN.replace("REVERSED_NEEDLES", repr(needles)), sealed=markers["mine"], limits=Limits(wall_time_s=20)
    )
    assert run.ok, run.stderr
    own, pid, parent = json.loads(run.stdout)
    assert own == [1] * 6, dict(zip(markers, own))  # the control proves the scan reads its own memory
    # The runner it was forked from lies outside its pid namespace: no process of the run can name it.
    assert (pid, parent) == (1, 0)


def test_sealed_goes_through_run_many_and_the_module_level_run(box):  # noqa: F811
    jobs = [sandbox.Job("import os; print(os.read(3, 9).decode())", sealed=f"job{i}") for i in range(3)]
    assert [r.stdout for r in sandbox.run_many(jobs, backend=box)] == ["job0\n", "job1\n", "job2\n"]
    assert sandbox.run("import os; print(os.read(3, 9))", sealed=b"\x00", backend=box).stdout == "b'\\x00'\n"
