"""Bad input and environment faults: one line on stderr naming the file, line or flag, a non-zero exit, no
traceback, no silently wrong score; nothing written is lost, and the same command resumes once the cause is gone."""

from __future__ import annotations

import errno
import json
import math
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from prime_common.jsonl import Appender, OutputError, read_repairing
from prime_eval.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _score(tmp_path: Path, src: Path, out: Path | None = None, *extra: str) -> int:
    out = out or tmp_path / "scored.jsonl"
    return main(["score", "--input", str(src), "--output", str(out), "--quiet", "--workers", "1", *extra])


def _write_lines(path: Path, lines: list[bytes | str]) -> Path:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines))
    return path


GOOD = '{"response": "\\\\boxed{1}", "gold": "1"}'


# -- score: every input line is checked before anything is scored -----------------------------------------------


@pytest.mark.parametrize(
    "line, message",
    [
        (b'{"response": "\xff", "gold": "1"}', "in.jsonl:2: not UTF-8 text (byte 0xff at column 15)"),
        ('{"response": "x", "gold": null}', "in.jsonl:2: field 'gold' must be a string or a number, got null"),
        ('{"response": "x", "gold": true}', "in.jsonl:2: field 'gold' must be a string or a number, got true"),
        ('{"response": "x", "gold": []}', "in.jsonl:2: field 'gold' must be a string or a number, got []"),
        ('{"response": "x", "gold": {"a": 1}}', "field 'gold' must be a string or a number, got {\"a\": 1}"),
        ('{"response": "x", "gold": NaN}', "in.jsonl:2: invalid JSON (NaN is not a JSON number)"),
        (
            '{"response": "x", "gold": "1", "t": -Infinity}',
            "in.jsonl:2: invalid JSON (-Infinity is not a JSON number)",
        ),
        ('{"response": "x", "gold": 1e999}', "in.jsonl:2: invalid JSON (number 1e999 is too large)"),
        ("[" * 100_000, "in.jsonl:2: invalid JSON (nested too deeply)"),
    ],
)
def test_bad_row_is_refused_with_its_line(tmp_path, capsys, line, message):
    out = tmp_path / "scored.jsonl"
    assert _score(tmp_path, _write_lines(tmp_path / "in.jsonl", [GOOD, line]), out) == 2
    assert message in _one_line(capsys.readouterr().err)
    assert not out.exists(), "nothing is scored when any row is bad"


@pytest.mark.parametrize("lines", [[], ["", "   "]])
def test_empty_input_is_an_error_not_zero_of_zero(tmp_path, capsys, lines):
    src = _write_lines(tmp_path / "in.jsonl", lines)
    assert _score(tmp_path, src) == 2
    assert _one_line(capsys.readouterr().err) == f"prime-eval score: error: no rows in {src}"


def test_input_that_is_a_folder(tmp_path, capsys):
    (tmp_path / "d").mkdir()
    assert _score(tmp_path, tmp_path / "d") == 2
    assert f"{tmp_path / 'd'}: a folder, not a file" in _one_line(capsys.readouterr().err)


def test_lone_surrogate_is_scored_written_escaped_and_resumed(tmp_path, capsys):
    """A model may emit "\\ud800" (valid JSON, not encodable as UTF-8): the row is scored like any other, written
    with a \\u escape, reads back as the same string, and a rerun resumes instead of crashing on it again."""
    rows = [{"response": "\ud800 \\boxed{1}", "gold": "1"}, {"response": "ok \\boxed{2}", "gold": "2"}]
    src = _write_lines(tmp_path / "in.jsonl", [json.dumps(r) for r in rows])
    out = tmp_path / "scored.jsonl"
    assert _score(tmp_path, src, out) == 0
    scored = read_repairing(out)
    assert [r["response"] for r in scored] == [r["response"] for r in rows]
    assert [r["correct"] for r in scored] == [True, True]
    out.write_text(out.read_text().splitlines(keepends=True)[0])  # as if stopped after the first row
    capsys.readouterr()
    assert _score(tmp_path, src, out) == 0
    assert "1 rows were already scored, 1 scored now" in capsys.readouterr().out
    assert [r["response"] for r in read_repairing(out)] == [r["response"] for r in rows]


# -- score: output faults ----------------------------------------------------------------------------------------


def test_output_that_is_a_folder(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    src = _write_lines(tmp_path / "in.jsonl", [GOOD])
    assert _score(tmp_path, src, tmp_path / "out") == 1
    assert f"cannot write {tmp_path / 'out'}: it is a folder, not a file" in _one_line(capsys.readouterr().err)


def test_full_disk_mid_row_keeps_every_whole_row(tmp_path, monkeypatch):
    """The disk fills in the middle of a row: the part written is cut off again, so the file ends at a row
    boundary; the error names the file; the rows before are kept."""
    path = tmp_path / "o.jsonl"
    out = Appender(path)
    out.write({"i": 0})
    real_write = os.write
    calls = []

    def full_after_half(fd, data):
        if fd != out._fd:
            return real_write(fd, data)
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full_after_half)
    with pytest.raises(OutputError, match=f"cannot write {path}: No space left on device"):
        out.write({"i": 1, "pad": "x" * 100})
    monkeypatch.undo()
    out.write({"i": 2})
    out.close()
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"i": 0}, {"i": 2}]


@dataclass
class SmallDisk:
    path: Path

    def grow(self) -> None:
        """Make room, as a user would after the error."""
        subprocess.run(["mount", "-o", "remount,size=4m", str(self.path)], check=True)


@pytest.fixture
def small_disk(tmp_path):
    """A 16 KiB tmpfs, to fill for real (root only; skipped elsewhere)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mnt)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield SmallDisk(mnt)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


ROWS = [{"id": i, "response": f"so the answer is \\boxed{{{i}}}", "gold": str(i % 3)} for i in range(150)]


def test_score_on_a_full_disk_says_so_and_resumes(tmp_path, capsys, small_disk):
    src = _write_lines(tmp_path / "in.jsonl", [json.dumps(r) for r in ROWS])
    clean = tmp_path / "clean.jsonl"
    assert _score(tmp_path, src, clean) == 0
    out = small_disk.path / "scored.jsonl"
    capsys.readouterr()
    assert _score(tmp_path, src, out) == 1
    line = _one_line(capsys.readouterr().err)
    assert line == f"prime-eval score: error: cannot write {out}: No space left on device"
    kept = out.read_text()
    assert kept.endswith("\n") and 0 < len(kept.splitlines()) < len(ROWS)
    small_disk.grow()
    assert _score(tmp_path, src, out) == 0
    assert f"{len(kept.splitlines())} rows were already scored" in capsys.readouterr().out
    assert out.read_text() == clean.read_text()


def test_bon_on_a_full_disk_leaves_no_temporary_file(tmp_path, capsys, small_disk):
    rows = [{"problem_id": i // 4, "gold": "1", "response": f"{'step ' * 20}\\boxed{{{i % 2}}}", "s": i % 5}
            for i in range(120)]  # fmt: skip
    cands = _write_lines(tmp_path / "cands.jsonl", [json.dumps(r) for r in rows])
    out = small_disk.path / "bon"
    args = ["bon", "--candidates", str(cands), "--output", str(out), "--scores-field", "s", "--quiet"]
    assert main([*args, "--workers", "1"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"prime-eval bon: error: cannot write {out}/") and "No space left on device" in line
    assert not list(out.glob("*.tmp")) and not (small_disk.path / "bon.lock").exists()
    small_disk.grow()
    assert main([*args, "--workers", "1"]) == 0
    assert len((out / "candidates.jsonl").read_text().splitlines()) == len(rows)


def test_run_on_a_full_disk_resumes_without_duplicates(tmp_path, small_disk):
    from prime_eval.run_config import build_config
    from prime_eval.runner import run_eval
    from tests._fake_backend import FakeBackend

    config = build_config({"model": "fake", "benchmarks": "arith", "n": 4, "temperature": 0.6, "limit": 12,
                           "output": str(small_disk.path / "run"), "verify_workers": 1})  # fmt: skip
    long = {"x": "word " * 400}  # every problem answers a ~2 KB response: the disk fills during generation
    with pytest.raises(OutputError, match="No space left on device"):
        run_eval(config, backend=FakeBackend(long), progress=False)
    small_disk.grow()
    results = run_eval(config, backend=FakeBackend(long), progress=False)
    assert results["benchmarks"]["arith"]["num_samples"] == 48
    gens = read_repairing(small_disk.path / "run" / "generations" / "arith.jsonl")
    assert len(gens) == len({(g["id"], g["sample"]) for g in gens}) == 48
    assert not list((small_disk.path / "run").glob("*.tmp"))


# -- numeric flags: NaN, infinities and values out of range are refused by the parser -----------------------------


@pytest.mark.parametrize(
    "argv, flag, value",
    [
        (["score", "--input", "i", "--output", "o"], "--timeout", "nan"),
        (["score", "--input", "i", "--output", "o"], "--timeout", "inf"),
        (["score", "--input", "i", "--output", "o"], "--timeout", "-1"),
        (["score", "--input", "i", "--output", "o"], "--memory-mb", "-5"),
        (["score", "--input", "i", "--output", "o"], "--workers", "0"),
        (["run", "--model", "m", "--output", "o"], "--verify-workers", "0"),
        (["run", "--model", "m", "--output", "o"], "--verify-timeout", "nan"),
        (["run", "--model", "m", "--output", "o"], "--temperature", "nan"),
        (["run", "--model", "m", "--output", "o"], "--top-p", "nan"),
        (["run", "--model", "m", "--output", "o"], "--n", "0"),
        (["bon", "--candidates", "c", "--output", "o", "--oracle"], "--timeout", "nan"),
        (["bon", "--candidates", "c", "--output", "o", "--oracle"], "--workers", "0"),
        (["bon", "--generate", "--output", "o", "--oracle"], "--temperature", "nan"),
        (["bon", "--candidates", "c", "--output", "o", "--oracle"], "--beta", "nan"),
    ],
)
def test_numeric_flag_out_of_range(capsys, argv, flag, value):
    with pytest.raises(SystemExit) as stopped:
        main([*argv, flag, value])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: expected " in err and f"got '{value}'" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"timeout_s": math.nan}, "timeout_s must be a positive finite number of seconds, got nan"),
        ({"timeout_s": math.inf}, "timeout_s must be a positive finite number"),
        ({"workers": 0}, "workers must be an integer of at least 1, got 0"),
        ({"memory_mb": -5}, "memory_mb must be an integer of at least 0"),
    ],
)
def test_verify_batch_refuses_arguments_out_of_range(kwargs, message):
    from prime_eval.verify.math import MathVerifier
    from prime_eval.verify.pool import verify_batch

    with pytest.raises(ValueError, match=message):
        verify_batch(MathVerifier(), ["\\boxed{1}"], ["1"], **kwargs)


# -- bon: one identity per problem, golds checked ------------------------------------------------------------------


def _bon(tmp_path: Path, rows: list[dict]) -> int:
    cands = _write_lines(tmp_path / "cands.jsonl", [json.dumps(r) for r in rows])
    return main(["bon", "--candidates", str(cands), "--output", str(tmp_path / "bon"), "--oracle", "--quiet"])


def test_bon_refuses_ids_that_differ_only_in_type(tmp_path, capsys):
    rows = [{"problem_id": 1, "gold": "1", "response": "\\boxed{1}"},
            {"problem_id": "1", "gold": "1", "response": "\\boxed{2}"}]  # fmt: skip
    assert _bon(tmp_path, rows) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"cands.jsonl:2: problem_id '1' and 1 at {tmp_path / 'cands.jsonl'}:1 differ only in type" in line
    assert not (tmp_path / "bon").exists()


def test_bon_refuses_a_gold_that_is_not_a_value(tmp_path, capsys):
    rows = [{"problem_id": 1, "gold": [1], "response": "\\boxed{1}"}]
    assert _bon(tmp_path, rows) == 2
    assert "cands.jsonl:1: field 'gold' must be a string or a number, got [1]" in _one_line(capsys.readouterr().err)


# -- prime-train: recipe files and models --------------------------------------------------------------------------


def _train(args: list[str]) -> int:
    from prime_train.cli import main as train_main

    return train_main(args)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"- a\n- b\n", "a recipe is a mapping of settings (key: value), got list"),
        (b"just text\n", "got str"),
        (b"seed: 1\nrollout: {temperature: \xff}\n", "recipe.yaml:2:24: not UTF-8 text (byte 0xff)"),
        (b"seed: 1\nrollout: [1,\n", "recipe.yaml:3:1: not valid YAML"),
        (b"rollout:\n  temperature: .nan\n", "rollout.temperature must be finite, got nan"),
        (b"model:\n  policy: [a, b]\n", "model.policy must be text, got ['a', 'b']"),
    ],
)
def test_bad_recipe_is_one_line(tmp_path, capsys, content, message):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_bytes(content)
    assert _train(["--config", str(recipe), "--print-config"]) == 2
    assert message in _one_line(capsys.readouterr().err)


def test_max_steps_must_be_positive(capsys):
    with pytest.raises(SystemExit) as stopped:
        _train(["--config", "tiny-cpu", "--max-steps", "0"])
    assert stopped.value.code == 2
    assert "argument --max-steps: expected an integer of at least 1, got '0'" in capsys.readouterr().err


@pytest.mark.parametrize("exists, message", [(False, "no such model folder"), (True, "is not a model folder")])
def test_missing_model_is_one_line_and_leaves_nothing(tmp_path, capsys, exists, message):
    model = tmp_path / "model"
    if exists:
        model.mkdir()  # a folder without config.json
    run = tmp_path / "run"
    assert _train(["--config", "tiny-cpu", "--model", str(model), "--output-dir", str(run)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"model.policy '{model}'" in line and message in line
    assert not run.exists() and not (tmp_path / "run.lock").exists()


@pytest.mark.slow
def test_model_without_weights_leaves_no_config_behind(tmp_path, tiny_model):
    """The tokenizer loads, the weights do not: the trainer had written config.yaml already; it is removed."""
    import shutil
    import sys

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    run = tmp_path / "run"
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    done = subprocess.run([sys.executable, "-m", "prime_train.cli", "--config", "tiny-cpu", "--model", str(model),
                           "--output-dir", str(run)], env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and f"prime-train: error: cannot load model '{model}'" in done.stderr
    assert not run.exists() and not (tmp_path / "run.lock").exists()


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("temperature: .nan\n", "temperature must be finite, got nan"),
        ("verify_workers: 0\n", "--verify-workers must be at least 1"),
        ("verify_timeout_s: -1\n", "verify_timeout_s must be positive"),
        ("n: 2.5\n", "n must be an integer, got 2.5"),
        ("benchmarks: [aime24]\n", "benchmarks must be text, got ['aime24']"),
        ("backend_options: fast\n", "backend_options must be a mapping, got 'fast'"),
    ],
)
def test_run_config_file_values_are_typed_and_finite(tmp_path, capsys, yaml_text, message):
    config = tmp_path / "run.yaml"
    config.write_text(yaml_text)
    args = ["run", "--config", str(config), "--model", "m", "--backend", "file", "--output", str(tmp_path / "o")]
    assert main(args) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_run_config_file_numbers_may_be_written_as_text(tmp_path):
    from prime_eval.run_config import build_config

    config = tmp_path / "run.yaml"
    config.write_text("temperature: '0.6'\nn: '4'\nlimit: 5\n")
    built = build_config({"model": "m", "output": "o"}, config)
    assert (built.temperature, built.n, built.limit) == (0.6, 4, 5)
