"""prime_common.jsonl, the one module for JSON on disk: its reader, and the writers that route through it."""

from __future__ import annotations

import errno
import gzip
import json
import os
from pathlib import Path

import pytest

from prime_common.jsonl import OutputError, read_jsonl

ROWS = [{"id": 1, "text": "é"}, {"id": 2, "text": "\\boxed{2}"}]


def _lines(rows: list) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


@pytest.mark.parametrize("name", ["rows.jsonl", "rows.jsonl.gz"])
def test_read_jsonl_plain_or_gzip_skips_blank_lines_and_needs_no_final_newline(tmp_path, name):
    data = _lines(ROWS[:1]) + b"\n  \n" + _lines(ROWS[1:]).rstrip(b"\n")
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    assert read_jsonl(path) == ROWS


@pytest.mark.parametrize("bad", [b'{"id": 3', b"[1, 2]", b"\xff{}", b"NaN-ish"])
def test_read_jsonl_names_the_line_that_is_not_an_object(tmp_path, bad):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(_lines(ROWS[:1]) + bad + b"\n" + _lines(ROWS[1:]))
    with pytest.raises(ValueError, match=rf"^{path}:2: not a JSON object$"):
        read_jsonl(path)
    assert read_jsonl(path, skip_bad=True) == ROWS


def test_read_jsonl_skips_a_torn_last_line_of_a_live_file_without_touching_it(tmp_path):
    path = tmp_path / "metrics.jsonl"
    data = _lines(ROWS) + b'{"id": 3, "te'
    path.write_bytes(data)
    assert read_jsonl(path, skip_bad=True) == ROWS
    assert path.read_bytes() == data  # a reader never repairs another process's file


def test_report_reads_gzip_jsonl_through_the_one_reader(tmp_path):
    from prime_eval.report.load import read_jsonl as report_read
    from prime_eval.report.runs import ReportError

    path = tmp_path / "samples.jsonl.gz"
    path.write_bytes(gzip.compress(_lines(ROWS) + b"garbage\n"))
    assert report_read(path) == ROWS
    path.write_bytes(b"not gzip")
    with pytest.raises(ReportError, match="not a readable gzip file"):
        report_read(path)


def _finished_evaluation(run_dir: Path):
    """A CheckpointEvaluator whose step-5 evaluation finished with a results.json."""
    import subprocess
    import sys

    from prime_train.config import EvalConfig
    from prime_train.evaluation import CheckpointEvaluator, _Job

    evaluator = CheckpointEvaluator(EvalConfig(benchmarks=["arith"]), run_dir, "chat", 0, lambda *a: None)
    job = _Job(5, "model", subprocess.Popen([sys.executable, "-c", ""]))
    job.process.wait()
    results = evaluator.out_dir(5) / "results.json"
    results.parent.mkdir(parents=True)
    results.write_text(json.dumps({"benchmarks": {"arith": {"metrics": {"avg": {"mean": 0.5}}}}}))
    return evaluator, job


def test_eval_log_rows_go_through_the_appender(tmp_path, monkeypatch):
    """A full disk while eval.jsonl gets its row: one error naming the file, and no partial row left behind."""
    evaluator, job = _finished_evaluation(tmp_path)
    path = tmp_path / "eval.jsonl"
    path.write_bytes(_lines([{"step": 0}]))
    real_write = os.write

    def full_after_half(fd, data):
        if not os.readlink(f"/proc/self/fd/{fd}").endswith("eval.jsonl"):
            return real_write(fd, data)
        if len(data) > 4:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full_after_half)
    with pytest.raises(OutputError, match=f"cannot write {path}: No space left on device"):
        evaluator._collect(job)
    monkeypatch.undo()
    assert path.read_bytes() == _lines([{"step": 0}])
    evaluator._collect(job)
    assert [r["step"] for r in read_jsonl(path)] == [0, 5]
