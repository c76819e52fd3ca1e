"""One writer per output: a second score/run/bon on an output in use stops at once, names the holder and writes
nothing; a holder killed with SIGKILL does not block the rerun that resumes its work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from prime_eval.cli import main
from prime_eval.output_lock import OutputBusy, hold_output, lock_path

ROOT = Path(__file__).resolve().parents[1]

# A second process that takes the lock the way a command does and keeps it until it is killed.
_HOLDER = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from prime_eval.output_lock import hold_output
with hold_output(Path({output!r})):
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def holder():
    """Start a process holding an output's lock; every one started is killed at the end of the test."""
    procs: list[subprocess.Popen] = []

    def start(output: Path) -> subprocess.Popen:
        code = _HOLDER.format(root=str(ROOT), output=str(output))
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


ROWS = [{"id": i, "response": f"\\boxed{{{i}}}", "gold": str(i % 2)} for i in range(4)]


def _input(tmp_path: Path) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def _score(tmp_path: Path, out: Path) -> int:
    return main(["score", "--input", str(_input(tmp_path)), "--output", str(out), "--quiet", "--workers", "1"])


def test_second_scorer_of_an_output_stops_and_names_the_first(tmp_path, capsys, holder):
    out = tmp_path / "scored.jsonl"
    first = holder(out)
    assert _score(tmp_path, out) == 1
    err = capsys.readouterr().err
    assert f"output {out} is being written by pid {first.pid} on " in err
    assert "started " in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists(), "the second scorer wrote nothing"


def test_lock_released_by_sigkill_does_not_block_the_rerun(tmp_path, capsys, holder):
    out = tmp_path / "scored.jsonl"
    first = holder(out)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert lock_path(out).exists(), "a killed holder leaves its lock file"
    assert _score(tmp_path, out) == 0
    assert len(out.read_text().splitlines()) == len(ROWS)
    assert not lock_path(out).exists(), "a finished command removes its lock file"


def test_two_identical_score_commands_do_not_duplicate_rows(tmp_path):
    """The red team's case, end to end: two real processes started together on one output."""
    src, out = _input(tmp_path), tmp_path / "scored.jsonl"
    cmd = [sys.executable, "-m", "prime_eval.cli", "score", "--input", str(src), "--output", str(out), "--quiet",
           "--workers", "1"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    for p in procs:
        p.stderr.close()
    # Either the second started after the first had finished and found every row scored, or it was refused:
    # never both appending.
    assert len(out.read_text().splitlines()) == len(ROWS)
    for code, err in results:
        assert code == 0 or (code == 1 and f"output {out} is being written by " in err), err
        assert "Traceback" not in err


def test_second_run_of_a_folder_stops(tmp_path, holder):
    from prime_eval.run_config import build_config
    from prime_eval.runner import run_eval
    from tests._fake_backend import FakeBackend

    run = tmp_path / "run"
    first = holder(run)
    config = build_config({"model": "fake", "benchmarks": "arith", "limit": 1, "output": str(run)})
    fake = FakeBackend({})
    with pytest.raises(OutputBusy, match=f"pid {first.pid}"):
        run_eval(config, backend=fake, progress=False)
    assert fake.calls == [] and not run.exists()


def test_second_bon_of_a_folder_stops(tmp_path, capsys, holder):
    cands = tmp_path / "cands.jsonl"
    cands.write_text(
        "".join(json.dumps({"problem_id": 1, "gold": "1", "response": "1", "s": 0.5}) + "\n" for _ in "ab")
    )
    first = holder(tmp_path / "bon")
    args = ["bon", "--candidates", str(cands), "--output", str(tmp_path / "bon"), "--scores-field", "s", "--quiet"]
    assert main(args) == 1
    assert f"is being written by pid {first.pid}" in capsys.readouterr().err
    assert not (tmp_path / "bon").exists()


def test_reentrant_within_a_process_and_exclusive_across(tmp_path):
    out = tmp_path / "o.jsonl"
    with hold_output(out):
        with hold_output(out):  # a command holding its output calls a function that takes it too
            pass
        assert lock_path(out).exists(), "still held by the outer block"
        record = json.loads(lock_path(out).read_text())
        assert record["pid"] == os.getpid() and record["host"] and record["started"] and "command" in record
    assert not lock_path(out).exists()


def test_output_under_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert _score(tmp_path, tmp_path / "afile" / "scored.jsonl") == 1
    err = capsys.readouterr().err
    assert "it is a file, not a folder" in err or "Not a directory" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow  # imports DeepSpeed and builds the tiny model: about 20 s
def test_second_training_run_of_a_folder_stops(tmp_path, capsys, holder, tiny_model):
    from prime_train.cli import main as train_main

    run = tmp_path / "run"
    first = holder(run)
    args = ["--config", "tiny-cpu", "--model", str(tiny_model), "--output-dir", str(run)]
    assert train_main(args) == 1
    assert f"output {run} is being written by pid {first.pid}" in capsys.readouterr().err
    assert not run.exists(), "the refused run wrote nothing"
