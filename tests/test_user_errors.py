"""One ``UserError`` base for every error that is the user's to fix, caught once in each command line's ``main``:
one line on stderr naming the command, exit 2 (1 for an environment fault), never a traceback."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from prime_common.errors import UserError
from prime_eval.cli import main as eval_main
from prime_train.cli import main as train_main

ROOT = Path(__file__).resolve().parents[1]


def _user_error_classes() -> list[type]:
    from benchmarks.arith import ArithError
    from benchmarks.loading import DataError
    from benchmarks.registry import UnknownBenchmark
    from prime_common.jsonl import OutputError
    from prime_common.registry import UnknownName
    from prime_eval.backends.base import BackendError
    from prime_eval.bon.bench import CandidatesError
    from prime_eval.bon.reward_models import ScoreError
    from prime_eval.output_lock import OutputBusy
    from prime_eval.report.runs import ReportError
    from prime_eval.run_config import ConfigError
    from prime_eval.runner import RunError
    from prime_eval.scoring import InputError
    from prime_train.config import ConfigError as TrainConfigError
    from prime_train.sft import SFTError

    assert TrainConfigError is ConfigError  # one class, not two of one name
    return [ArithError, DataError, UnknownBenchmark, UnknownName, BackendError, CandidatesError, ScoreError,
            OutputError, OutputBusy, ReportError, ConfigError, RunError, InputError, SFTError]  # fmt: skip


def test_every_user_error_class_derives_from_the_one_base():
    assert [c.__name__ for c in _user_error_classes() if not issubclass(c, UserError)] == []


def test_environment_faults_exit_1_and_wrong_input_2():
    from prime_common.jsonl import OutputError
    from prime_eval.runner import RunError

    assert {c.__name__: c.exit_status for c in _user_error_classes() if c.exit_status != 2} == {
        "OutputError": 1, "OutputBusy": 1, "RunError": 1}  # fmt: skip
    assert OutputError.exit_status == RunError.exit_status == 1


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "argv, prefix, message",
    [
        (["run", "--model", "m", "--output", "o", "--benchmarks", "aime2"], "prime-eval run", "did you mean"),
        (["ls", "--include-path", "/nonexistent/defs"], "prime-eval ls", "/nonexistent/defs"),
        (["report", "/nonexistent/run", "--output", "r"], "prime-eval report", "/nonexistent/run"),
        (["bon", "--oracle", "--output", "b"], "prime-eval bon", "give either --candidates FILE or --generate"),
        (["score", "--input", "/nonexistent.jsonl", "--output", "s.jsonl"], "prime-eval score", "nonexistent"),
    ],
)
def test_prime_eval_user_errors_are_one_line_exit_2(argv, prefix, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert eval_main(argv) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"{prefix}: error: ") and message in line


@pytest.mark.parametrize(
    "argv, prefix, message",
    [
        (["--config", "tiny-cpuu"], "prime-train", "did you mean 'tiny-cpu'"),
        (["--config", "tiny-cpu", "--rollout.max_new_tokens", "1.5"], "prime-train", "must be an integer, got 1.5"),
        (["sft", "--model", "m", "--output", "o", "--batch-size", "0"], "prime-train sft", "batch_size"),
        (["prm", "--data", "/nonexistent.jsonl", "--model", "m", "--output", "o"], "prime-train prm", "nonexistent"),
    ],
)
def test_prime_train_user_errors_are_one_line_exit_2(argv, prefix, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert train_main(argv) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"{prefix}: error: ") and message in line


def test_an_environment_fault_exits_1(tmp_path, capsys):
    """A run folder holding other settings is the folder's state, not a wrong flag: exit 1, as before."""
    responses = tmp_path / "r.jsonl"
    responses.write_text('{"id": "1", "response": "2"}\n')
    out = tmp_path / "out"
    args = ["run", "--model", str(responses), "--backend", "file", "--benchmarks", "arith", "--limit", "1",
            "--output", str(out), "--quiet"]  # fmt: skip
    eval_main(args)
    capsys.readouterr()
    assert eval_main([*args, "--seed", "7"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("prime-eval run: error: ") and "other settings" in line


@pytest.mark.parametrize("module", ["prime_eval.cli", "prime_train.cli"])
def test_no_traceback_from_a_real_process(module, tmp_path):
    settings = tmp_path / "bad.yaml"
    settings.write_text("temperature: abc\n" if module == "prime_eval.cli" else "rollout:\n  temperature: abc\n")
    argv = ["run", "--model", "m", "--output", str(tmp_path / "o")] if module == "prime_eval.cli" else []
    done = subprocess.run([sys.executable, "-m", module, *argv, "--config", str(settings)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and "temperature must be a number, got 'abc'" in _one_line(done.stderr)


def test_user_errors_are_printed_only_by_the_mains():
    """No command prints its own ``error:`` line or catches a UserError subclass to print it: the mains do."""
    printers = []
    for path in [*ROOT.glob("prime_eval/**/*.py"), *ROOT.glob("prime_train/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr) and any(
                isinstance(v, ast.Constant) and ": error: " in v.value for v in node.values
            ):
                printers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert printers == []
