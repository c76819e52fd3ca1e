"""The docker backend: its container spec everywhere, real runs only where an engine answers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import sandbox
from sandbox import ExecStatus, Limits
from sandbox.docker_backend import DEFAULT_IMAGE, container_spec


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


def _engine():
    try:
        import docker

        client = docker.from_env()
        client.ping()
        client.images.get(DEFAULT_IMAGE)
        return client
    except Exception:
        return None


@pytest.mark.docker
def test_runs_in_a_container():
    client = _engine()
    if client is None:
        pytest.skip(f"no Docker engine answers, or image {DEFAULT_IMAGE} is not built")
    backend = sandbox.get_backend("docker", client=client)
    assert backend.run("print(6 * 7)").stdout == "42\n"
    assert backend.run("while True: pass", limits=Limits(wall_time_s=2, cpu_time_s=1)).status is ExecStatus.TIMEOUT
    net = backend.run("import socket; socket.create_connection(('1.1.1.1', 53), timeout=2)")
    assert net.status is ExecStatus.RUNTIME_ERROR
