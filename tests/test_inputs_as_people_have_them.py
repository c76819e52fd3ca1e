"""Inputs as people have them (issue 14, items 6-8): one field vocabulary in every command, gzip-compressed
files, error columns an editor agrees with, bon keeping the input's own columns and comparing like with like."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from prime_common.jsonl import read_jsonl
from prime_eval.backends.base import Request, SamplingConfig
from prime_eval.backends.file import FileBackend
from prime_eval.bon import run_bon
from prime_eval.bon.plot import grid
from prime_eval.bon.reward_models import FieldRM, OracleRM
from prime_eval.cli import main
from prime_eval.fields import Fields


def _jsonl(path: Path, rows: list) -> Path:
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_score_reads_gzip(tmp_path, capsys):
    src = _jsonl(tmp_path / "in.jsonl.gz", [{"id": 1, "response": "\\boxed{4}", "gold": "4"}])
    out = tmp_path / "o.jsonl"
    assert main(["score", "--input", str(src), "--output", str(out), "--quiet"]) == 0
    assert _read(out)[0]["correct"] is True


def test_a_damaged_gzip_is_one_line(tmp_path, capsys):
    src = tmp_path / "in.jsonl.gz"
    src.write_bytes(gzip.compress(b'{"a": 1}\n' * 50)[:-20])
    assert main(["score", "--input", str(src), "--output", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "not a readable gzip file" in err and "Traceback" not in err


def test_error_columns_count_characters_not_bytes(tmp_path, capsys):
    # "é" is two bytes: the bad byte is character 12 of the line, byte 13
    src = tmp_path / "in.jsonl"
    src.write_bytes('{"r": "é", '.encode() + b"\xff}\n")
    assert main(["score", "--input", str(src), "--output", str(tmp_path / "o"), "--quiet"]) == 2
    assert "not UTF-8 text (byte 0xff at column 12)" in capsys.readouterr().err


def test_a_misnamed_field_gets_a_suggestion(tmp_path, capsys):
    src = _jsonl(tmp_path / "in.jsonl", [{"responses": "\\boxed{4}", "gold": "4"}])
    assert main(["score", "--input", str(src), "--output", str(tmp_path / "o"), "--quiet"]) == 2
    assert "missing field 'response' (did you mean 'responses'?) (fields: gold, responses)" in capsys.readouterr().err


def test_code_scoring_honours_response_and_id_fields(shared_data, tmp_path):
    task = read_jsonl(shared_data / "humaneval" / "HumanEval.jsonl")[0]
    right = f"```python\n{task['prompt']}{task['canonical_solution']}```"
    src = _jsonl(tmp_path / "g.jsonl.gz", [{"problem": task["task_id"], "response": "x", "completion": right}])
    out = tmp_path / "o.jsonl"
    args = ["score", "--benchmark", "humaneval", "--data-dir", str(shared_data), "--input", str(src),
            "--output", str(out), "--id-field", "problem", "--response-field", "completion", "--quiet"]  # fmt: skip
    assert main(args) == 0
    assert _read(out)[0]["correct"] is True  # the 'completion' column was run, not 'response'


def test_file_backend_takes_the_same_field_names(tmp_path):
    named = _jsonl(tmp_path / "r.jsonl.gz", [{"problem_id": "7", "text": "hi"}])
    tasks = _jsonl(tmp_path / "t.jsonl", [{"task_id": "8", "response": "yo", "id": "other"}])
    got = {}

    def keep(request, c):
        got[request.meta["id"]] = c.text

    FileBackend(named, response_field="text").generate([Request("a", "q", (0,), {"id": "7"})], SamplingConfig(), keep)
    FileBackend(tasks, id_field="task_id").generate([Request("b", "q", (0,), {"id": "8"})], SamplingConfig(), keep)
    assert got == {"7": "hi", "8": "yo"}


def test_run_refuses_field_flags_without_the_file_backend(tmp_path, capsys):
    rc = main(["run", "--model", "m", "--backend", "openai", "--benchmarks", "arith", "--id-field", "x",
               "--output", str(tmp_path / "r")])  # fmt: skip
    assert rc == 2 and "--backend file" in capsys.readouterr().err


GOLD_ROWS = [  # two problems with pools of 4, one with a pool of 1
    *({"qid": "a", "answer": "1", "text": t, "label": True, "score": 9} for t in ("\\boxed{1}", "\\boxed{2}") * 2),
    *({"qid": "b", "answer": "2", "text": "\\boxed{2}", "label": True, "score": 9} for _ in range(4)),
    {"qid": "c", "answer": "3", "text": "\\boxed{4}", "label": False, "score": 9, "benchmark": "other"},
]


def test_bon_keeps_the_input_columns_and_takes_field_names(tmp_path, capsys):
    src = _jsonl(tmp_path / "pool.jsonl.gz", GOLD_ROWS)
    result = run_bon(src, tmp_path / "out", [1, 4], OracleRM(), progress=False, workers=1,
                     fields=Fields("qid", "text", "answer"))  # fmt: skip
    renamed = {"label": "input_label", "answer": "input_answer", "score": "input_score"}
    assert result["renamed_input_fields"] == renamed
    rows = _read(tmp_path / "out" / "candidates.jsonl")
    assert [r["input_label"] for r in rows] == [r["label"] for r in GOLD_ROWS]
    assert [r["label"] for r in rows] == [1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    assert all(r["input_score"] == 9 for r in rows)


def test_bon_overall_is_one_population_at_every_n(tmp_path):
    """Pools of one wrong candidate, averaged into overall at N = 1 only, would make pass@4 look better than a
    same-population curve; overall keeps only problems that can form the largest N."""
    src = _jsonl(tmp_path / "pool.jsonl", GOLD_ROWS)
    result = run_bon(src, tmp_path / "out", [1, 4], FieldRM("score"), progress=False, workers=1,
                     fields=Fields("qid", "text", "answer"))  # fmt: skip
    overall = result["overall"]
    assert overall["population"] == {
        "rule": "problems whose pool has at least 4 candidates (the largest N), at every N",
        "problems": 2,
        "left_out": 1,
    }
    m = overall["metrics"]
    assert m["pass@1"]["mean"] == pytest.approx((0.5 + 1) / 2) and m["pass@4"]["mean"] == 1.0


@pytest.mark.parametrize("count, shape", [(1, (1, 1)), (4, (1, 4)), (5, (2, 4)), (12, (3, 4)), (13, (4, 4))])
def test_bon_plot_panels_form_a_grid(count, shape):
    assert grid(count) == shape


def test_bon_png_with_many_benchmarks_is_not_a_strip(tmp_path):
    pytest.importorskip("matplotlib")
    rows = [{"id": f"p{b}", "gold": "1", "response": r, "benchmark": f"b{b:02d}"}
            for b in range(12) for r in ("\\boxed{1}", "\\boxed{2}")]  # fmt: skip
    run_bon(_jsonl(tmp_path / "c.jsonl", rows), tmp_path / "out", [1, 2], OracleRM(), progress=False, workers=1)
    import struct

    width, height = struct.unpack(">II", (tmp_path / "out" / "bon.png").read_bytes()[16:24])
    assert width <= 2400 and height > 480  # 13 panels: 4 columns, 4 rows
