"""The docker backend: its container spec everywhere, real runs only where an engine answers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import sandbox
from sandbox import ExecStatus, Limits
from sandbox.docker_backend import DEFAULT_IMAGE, container_spec
from tests.test_sandbox_hostile import DANGEROUS_CALLS, NRS, SYSCALL


def test_importing_sandbox_does_not_import_docker():
    assert "docker" not in sys.modules or "sandbox.docker_backend" in sys.modules
    import subprocess

    code = "import sandbox, sys; sandbox.get_backend('local'); print('docker' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_container_spec_enforces_every_limit():
    limits = Limits(memory_mb=256, max_processes=8, cpu_time_s=2.5, max_file_bytes=1 << 20, max_open_files=32)
    spec = container_spec(limits)
    assert spec["image"] == DEFAULT_IMAGE
    assert spec["network_mode"] == "none" and spec["network_disabled"] is True
    assert spec["read_only"] is True and "/work" in spec["tmpfs"] and "size=64m" in spec["tmpfs"]["/work"]
    assert spec["pids_limit"] == 12 and spec["mem_limit"] == spec["memswap_limit"] == "320m"
    assert spec["cap_drop"] == ["ALL"] and "no-new-privileges" in spec["security_opt"]
    assert spec["user"] != "0" and not spec["user"].startswith("root")
    ulimits = {u["Name"]: (u["Soft"], u["Hard"]) for u in spec["ulimits"]}
    assert ulimits == {"cpu": (3, 4), "fsize": (1 << 20, 1 << 20), "nofile": (32, 32)}
    assert set(spec["environment"]) == {"LC_ALL"}
    assert spec["command"][0] == "--seccomp" and bytes.fromhex(spec["command"][1])  # the box's filter, stacked


def test_dockerfile_runs_the_same_box_once():
    dockerfile = (Path(sandbox.__file__).parent / "Dockerfile").read_text()
    assert "COPY _box.py" in dockerfile and "--once" in dockerfile and "USER runner" in dockerfile


def test_engine_errors_are_sandbox_errors():
    class Broken:
        class containers:
            @staticmethod
            def create(**kwargs):
                raise RuntimeError("no engine")

    backend = sandbox.get_backend("docker", client=Broken())
    run = backend.run("print(1)")
    assert run.status is ExecStatus.SANDBOX_ERROR and "no engine" in run.reason


@pytest.fixture(scope="module")
def engine():
    """A Docker engine with the sandbox image (scripts/start_docker.sh provides both; CI runs it)."""
    try:
        import docker

        client = docker.from_env()
        client.ping()
        client.images.get(DEFAULT_IMAGE)
    except Exception as exc:
        pytest.skip(f"no Docker engine answers, or image {DEFAULT_IMAGE} is not built: {exc}")
    backend = sandbox.get_backend("docker", client=client)
    yield backend
    backend.close()


TIGHT = Limits(wall_time_s=3, cpu_time_s=2, memory_mb=128)
# Each hostile program prints one word per attempt: what happened. "done" means the attack went through.
ATTEMPTS = """
import socket
def attempt(name, action):
    try:
        action()
        print(name, "done")
    except OSError:
        print(name, "refused")
"""
HOSTILE = {
    "write_core_pattern": "attempt('core_pattern', lambda: open('/proc/sys/kernel/core_pattern', 'w'))",
    "sysrq": "attempt('sysrq', lambda: open('/proc/sysrq-trigger', 'w'))",
    "network": "attempt('network', lambda: socket.create_connection(('10.255.255.1', 53), timeout=1).close())",
    "write_root": "attempt('write_root', lambda: open('/usr/bin/evil', 'w').close())",
    "write_box_script": "attempt('write_box', lambda: open('/opt/prime/box.py', 'a').close())",
}


@pytest.mark.docker
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_programs_are_refused(engine, name):
    """None may succeed inside the container, and the host's kernel settings are unchanged afterwards. The same
    harmless attempt (a write to the run's own /tmp) says "done", so "refused" is not an artefact of the harness."""
    before = Path("/proc/sys/kernel/core_pattern").read_text()
    run = engine.run(ATTEMPTS + HOSTILE[name], limits=TIGHT)
    assert run.status is ExecStatus.OK, (run.status, run.stderr)
    assert run.stdout.split()[1:] == ["refused"], run.stdout
    assert Path("/proc/sys/kernel/core_pattern").read_text() == before
    control = engine.run(ATTEMPTS + "attempt('control', lambda: open('/tmp/x', 'w').write('x'))", limits=TIGHT)
    assert control.stdout.split() == ["control", "done"], control


@pytest.mark.docker
@pytest.mark.parametrize(
    "call, expected", DANGEROUS_CALLS, ids=lambda v: v[4:].split("}")[0] if isinstance(v, str) else str(v)
)
def test_dangerous_system_calls_are_denied_in_the_container(engine, call, expected):
    """The local box's table of system calls, through the engine: its default profile plus the box's filter."""
    run = engine.run(SYSCALL + f"print({call.format(**NRS)})", limits=TIGHT)
    assert run.status is ExecStatus.OK, (run.status, run.stderr)
    got = run.stdout.strip()
    assert got == str(expected) if expected is True else got == str(-expected), got


@pytest.mark.docker
def test_statuses_and_limits_through_the_engine(engine):
    assert engine.run("print(6 * 7)").stdout == "42\n"
    assert engine.run("raise SystemExit(3)").status is ExecStatus.RUNTIME_ERROR
    assert engine.run("while True: pass", limits=TIGHT).status is ExecStatus.TIMEOUT
    assert engine.run("x = bytearray(1 << 30)", limits=TIGHT).status is ExecStatus.MEMORY_LIMIT
    big = engine.run("import sys\nfor _ in range(100): sys.stdout.write('x' * 10 ** 6)", limits=TIGHT)
    assert big.status is ExecStatus.OUTPUT_LIMIT and big.stdout_truncated
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    assert engine.run(bomb, limits=TIGHT.with_(max_processes=16)).status in (
        ExecStatus.TIMEOUT,
        ExecStatus.RUNTIME_ERROR,
    )
    assert engine.run("print(1)").ok, "the engine must still work after a fork bomb"


@pytest.mark.docker
def test_no_identity_secrets_or_state_from_the_host(engine, monkeypatch):
    monkeypatch.setenv("PRIME_TEST_SECRET", "hunter2")
    run = engine.run("import os; print(os.getuid(), dict(os.environ))")
    uid, env = run.stdout.split(" ", 1)
    assert int(uid) != 0 and "hunter2" not in env
    engine.run("open('/tmp/left', 'w').write('x' * 1000); open('left', 'w').write('y')")
    again = engine.run("import os; print(os.path.exists('/tmp/left'), os.path.exists('left'))")
    assert again.stdout == "False False\n", "a run must not see what an earlier run wrote"


@pytest.mark.docker
def test_stdin_files_and_the_sealed_payload_arrive_through_the_attach_stream(engine):
    """The runner reads the payload from the container's stdin with splice (through a pipe of its own if the engine
    hands it a socket) and relays its report the same way."""
    program = (
        "import os, sys\nsealed = b''\nwhile chunk := os.read(3, 1 << 16):\n    sealed += chunk\n"
        "print(len(sealed), sealed[-4:], sys.stdin.read(), open('d/f.txt').read())\n"
    )
    run = engine.run(program, sealed=b"\xff" * 200_000 + b"tail", stdin="in", files={"d/f.txt": "file"}, limits=TIGHT)
    assert run.ok, run.stderr
    assert run.stdout == "200004 b'tail' in file\n"
