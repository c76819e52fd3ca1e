"""The local sandbox: statuses, limits, isolation, and hostile programs contained with the host untouched."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
import warnings
from pathlib import Path

import pytest

import sandbox
from sandbox import ExecStatus, Job, Limits
from sandbox.local import LocalBackend, SandboxWeakWarning

TIGHT = Limits(wall_time_s=2, cpu_time_s=2, memory_mb=256)


@pytest.fixture(scope="module")
def box():
    backend = LocalBackend(workers=2)
    if backend.isolation != "namespaces":
        pytest.skip("bubblewrap with user namespaces is not available here")
    yield backend
    backend.close()


def _host_processes_with(token: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if token.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            pass
    return found


def test_ok_with_output_and_timing(box):
    run = box.run("import sys\nprint('out')\nprint('err', file=sys.stderr)")
    assert run.status is ExecStatus.OK and run.ok
    assert (run.stdout, run.stderr, run.exit_code, run.signal) == ("out\n", "err\n", 0, None)
    assert 0 < run.wall_s < 2 and run.cpu_s >= 0 and run.peak_memory_bytes > 1 << 20
    assert run.isolation == "namespaces"


def test_stdin_files_and_fresh_workdir(box):
    program = "import os\nprint(input(), open('data/x.txt').read(), os.getcwd(), sorted(os.listdir('.')))"
    run = box.run(program, stdin="hello\n", files={"data/x.txt": "payload"})
    assert run.stdout.split() == ["hello", "payload", "/work", "['data',", "'main.py']"]
    again = box.run("import os; print(sorted(os.listdir('.')))")
    assert again.stdout.strip() == "['main.py']", "a run must not see files of an earlier run"


def test_a_repeated_program_still_runs_fresh(box):
    """The box compiles a program it has seen run cleanly once; every run must still be its own."""
    program = "import os, sys\nprint(input(), open('x').read(), sorted(os.listdir('.')))\nsys.exit(len(input()))"
    for i in range(4):
        run = box.run(program, stdin=f"in{i}\n{'y' * i}\n", files={"x": f"file{i}"})
        assert run.stdout == f"in{i} file{i} ['main.py', 'x']\n" and run.exit_code == i
    for _ in range(3):
        broken = box.run("def f(:\n    pass")
        assert broken.status is ExecStatus.RUNTIME_ERROR and "SyntaxError" in broken.stderr
        raising = box.run("raise KeyError('k')")
        assert 'main.py", line 1' in raising.stderr and raising.stderr.splitlines()[-1] == "KeyError: 'k'"


def test_site_builtins_without_site_hooks(box):
    """The runner starts with -S; programs still get exit()/quit() and the interpreter's site-packages path."""
    assert box.run("exit(3)").exit_code == 3
    assert box.run("quit()").status is ExecStatus.OK
    assert "site-packages" in box.run("import sys; print(sys.path)").stdout


def test_file_paths_cannot_escape_the_workdir(box):
    assert box.run("pass", files={"../evil": "x"}).status is ExecStatus.SANDBOX_ERROR


def test_runtime_error_and_exit_codes(box):
    run = box.run("raise ValueError('boom')")
    assert run.status is ExecStatus.RUNTIME_ERROR and run.exit_code == 1
    assert run.stderr.splitlines()[-1] == "ValueError: boom" and "_box" not in run.stderr
    assert box.run("import sys; sys.exit(3)").exit_code == 3


def test_infinite_loop_hits_cpu_limit(box):
    run = box.run("while True: pass", limits=Limits(wall_time_s=5, cpu_time_s=1))
    assert run.status is ExecStatus.TIMEOUT and "CPU" in run.reason


def test_sleep_hits_wall_limit(box):
    start = time.monotonic()
    run = box.run("import time; time.sleep(100)", limits=Limits(wall_time_s=1))
    assert run.status is ExecStatus.TIMEOUT and "wall" in run.reason
    assert time.monotonic() - start < 4


def test_fork_bomb_is_contained(box):
    token = uuid.uuid4().hex
    bomb = f"import os\n# {token}\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    run = box.run(bomb, limits=Limits(wall_time_s=2, max_processes=16))
    assert run.status in (ExecStatus.TIMEOUT, ExecStatus.RUNTIME_ERROR)
    assert box.run("print(1)").ok, "the sandbox must still work after a fork bomb"


def test_thread_cap(box):
    program = (
        "import threading, time\nfor _ in range(100):\n    threading.Thread(target=time.sleep, args=(5,)).start()"
    )
    run = box.run(program, limits=Limits(max_processes=8))
    assert run.status is ExecStatus.RUNTIME_ERROR and "can't start new thread" in run.stderr


@pytest.mark.parametrize(
    "program",
    ["x = bytearray(8 * 1024 ** 3)", "x = []\nwhile True:\n    x.append(bytearray(10 ** 6))"],
    ids=["one-allocation", "gradual"],
)
def test_memory_bomb(box, program):
    run = box.run(program, limits=TIGHT)
    assert run.status is ExecStatus.MEMORY_LIMIT, run


def test_huge_output_is_cut_and_stopped(box):
    run = box.run("import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 10 ** 6)", limits=TIGHT)
    assert run.status is ExecStatus.OUTPUT_LIMIT and run.stdout_truncated
    assert len(run.stdout) == TIGHT.max_output_bytes


def test_big_file_is_stopped(box):
    run = box.run("open('f', 'w').write('x' * (64 << 20))", limits=Limits(max_file_bytes=1 << 20))
    assert run.status is ExecStatus.OUTPUT_LIMIT


@pytest.mark.parametrize(
    "program, statuses",
    [
        ("def f(n): return f(n + 1)\nf(0)", {ExecStatus.RUNTIME_ERROR}),
        (
            "import sys\nsys.setrecursionlimit(10 ** 8)\ndef f(n): return f(n + 1)\nf(0)",
            {ExecStatus.KILLED, ExecStatus.MEMORY_LIMIT},
        ),
    ],
    ids=["default-limit", "raised-limit"],
)
def test_deep_recursion(box, program, statuses):
    assert box.run(program, limits=TIGHT).status in statuses


def test_segfault_via_ctypes(box):
    run = box.run("import ctypes; ctypes.string_at(0)")
    assert run.status is ExecStatus.KILLED and run.signal == 11


def test_reading_stdin_without_input_does_not_hang(box):
    assert box.run("import sys; print(len(sys.stdin.read()))").stdout == "0\n"
    assert box.run("input()").status is ExecStatus.RUNTIME_ERROR


def test_early_exit_statuses(box):
    assert box.run("import sys; sys.exit(0)\nraise SystemError").status is ExecStatus.OK
    assert box.run("import os; os._exit(0)").status is ExecStatus.OK


def test_host_files_are_invisible_and_untouched(box, tmp_path):
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("keep")
    outside = Path("/tmp") / f"prime-escape-{uuid.uuid4().hex}"
    program = f"""
import os, shutil
results = []
for action in (
    lambda: os.remove({str(sentinel)!r}),
    lambda: open({str(sentinel)!r}, "w").write("gone"),
    lambda: shutil.rmtree({str(tmp_path)!r}),
    lambda: open("/usr/bin/python3", "ab"),
    lambda: open("/etc/passwd").read(),
    lambda: open("{Path.home()}/.bashrc").read(),
    lambda: open({str(Path(__file__).resolve())!r}).read(),
):
    try:
        action()
        results.append("done")
    except OSError as exc:
        results.append(type(exc).__name__)
open({str(outside)!r}, "w").write("inside the box only")
print(results)
"""
    run = box.run(program)
    assert run.ok, run.stderr
    assert "done" not in run.stdout
    assert sentinel.read_text() == "keep"
    assert not outside.exists()


def test_environment_is_scrubbed(box, monkeypatch):
    monkeypatch.setenv("PRIME_TEST_SECRET", "hunter2")
    fresh = LocalBackend(workers=1)
    try:
        run = fresh.run("import os; print(dict(os.environ))")
        assert "hunter2" not in run.stdout and "PRIME_TEST_SECRET" not in run.stdout
        assert "'HOME': '/work'" in run.stdout
    finally:
        fresh.close()


@pytest.fixture(params=["namespaces", "bwrap", "rlimits"])
def any_level(request):
    """A one-worker backend at each isolation level (one this host lacks is skipped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SandboxWeakWarning)
        backend = LocalBackend(workers=1, isolation=request.param)
        try:
            assert backend.isolation == request.param
        except RuntimeError:
            pytest.skip(f"isolation {request.param} is not available here")
    yield backend
    backend.close()


def test_home_and_tmpdir_are_the_runs_own_work_dir_at_every_level(any_level):
    # The runner sets them once where every run's work dir is the same; elsewhere each run must set its own.
    show = "import os; print(os.environ['HOME'] == os.environ['TMPDIR'] == os.getcwd(), os.getcwd())"
    first, second = any_level.run(show).stdout.split(), any_level.run(show).stdout.split()
    assert first[0] == second[0] == "True", (first, second)
    assert (first[1] == second[1]) == (any_level.isolation == "namespaces")  # elsewhere a fresh dir per run


def test_no_network_even_to_loopback(box):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    run = box.run(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)")
    assert run.status is ExecStatus.RUNTIME_ERROR and "ConnectionRefusedError" in run.stderr
    with pytest.raises(socket.timeout):
        server.accept()
    server.close()


def test_no_capabilities_and_no_host_processes_visible(box):
    run = box.run("import os\nprint(open('/proc/self/status').read())\nprint(sorted(os.listdir('/proc')))")
    caps = {line.split(":")[0]: line.split()[1] for line in run.stdout.splitlines() if line.startswith("Cap")}
    assert set(caps.values()) == {"0000000000000000"}
    pids = [p for p in run.stdout.splitlines()[-1].strip("[]").replace("'", "").split(", ") if p.isdigit()]
    assert pids == ["1"], "only the program itself, pid 1 of its run's namespace (no init between it and the runner)"


def test_killing_the_parent_does_not_escape(box):
    run = box.run(
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(1, signal.SIGKILL)\nprint('alive')"
    )
    assert run.ok and run.stdout == "alive\n"
    assert box.run("print(2)").stdout == "2\n"


def test_background_process_does_not_outlive_the_run(box):
    token = uuid.uuid4().hex
    program = f"""
import os, subprocess
subprocess.Popen(["/bin/sh", "-c", "sleep 1000 # {token}"], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    os.execv("/bin/sh", ["/bin/sh", "-c", "sleep 999 # {token}"])
print("spawned")
"""
    run = box.run(program)
    assert run.ok and run.stdout == "spawned\n"
    deadline = time.monotonic() + 3
    while _host_processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _host_processes_with(token) == []


def test_run_many_uses_every_worker_and_keeps_order(box):
    jobs = [Job(f"import time; time.sleep(0.3); print({i})") for i in range(4)]
    start = time.monotonic()
    runs = sandbox.run_many(jobs, backend=box)
    assert [r.stdout for r in runs] == [f"{i}\n" for i in range(4)]
    assert time.monotonic() - start < 1.2 * 4 * 0.3 / box.workers + 1.0


def test_thread_safe_single_runs(box):
    results = []

    def work(i):
        results.append(box.run(f"print({i})").stdout)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted(f"{i}\n" for i in range(8))


def test_module_level_run_and_limits_validation():
    assert sandbox.run("print(6 * 7)").stdout == "42\n"
    with pytest.raises(ValueError):
        Limits(wall_time_s=0)


def test_works_under_a_workers_address_space_cap(box):
    """verify_batch workers run with RLIMIT_AS of a few GB; boxes started from them must still work."""
    import subprocess
    import sys

    code = (
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "from sandbox.local import LocalBackend\n"
        "b = LocalBackend(workers=1)\n"
        "print(b.isolation, b.run('print(1)').stdout.strip())\n"
        "b.close()"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["namespaces", "1"], out.stderr


def test_rlimits_fallback_warns_once_and_names_what_is_weaker():
    from sandbox import local

    local._warned.discard("rlimits")
    weak = LocalBackend(workers=1, isolation="rlimits")
    try:
        with pytest.warns(local.SandboxWeakWarning, match="rlimits only"):
            assert weak.isolation == "rlimits"
        assert weak.run("print(3)").stdout == "3\n"
        run = weak.run("import time; time.sleep(10)", limits=Limits(wall_time_s=0.5))
        assert run.status is ExecStatus.TIMEOUT
    finally:
        weak.close()


def test_the_cpu_limit_ends_a_program_that_is_pid_1_at_the_limit(box):
    # As pid 1 of its run the program ignores the soft limit's SIGXCPU; the hard limit must be the limit itself.
    run = box.run("while True: pass", limits=Limits(wall_time_s=30, cpu_time_s=1))
    assert run.status is ExecStatus.TIMEOUT and "CPU" in run.reason
    assert run.cpu_s < 1.5, run.cpu_s
