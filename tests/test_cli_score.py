"""prime-eval score: output fields, accuracy, bad input, resume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prime_common.jsonl import read_jsonl
from prime_eval.cli import main


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


ROWS = [
    {"id": 1, "response": "Thus $\\boxed{\\frac12}$.", "gold": "0.5"},
    {"id": 2, "response": "The answer is 7.", "gold": "8"},
    {"id": 3, "response": "<think>maybe \\boxed{3}", "gold": "3"},
    {"id": 4, "response": "so x = \\boxed{(1,2]}", "gold": "(1, 2]", "extra": [1, 2]},
]


def test_scores_and_keeps_every_input_field(tmp_path, capsys):
    out = tmp_path / "scored.jsonl"
    assert main(["score", "--input", str(_write(tmp_path / "in.jsonl", ROWS)), "--output", str(out), "--quiet"]) == 0
    rows = _read(out)
    assert [r["id"] for r in rows] == [1, 2, 3, 4]
    assert rows[3]["extra"] == [1, 2]
    assert [r["correct"] for r in rows] == [True, False, False, True]
    assert [r["status"] for r in rows] == ["ok", "wrong", "no_answer", "ok"]
    assert rows[0]["answer"] == "1/2" and rows[0]["score"] == 1.0
    # the console's one unit: a percentage with its sign (the JSON rows keep fractions)
    assert "accuracy 50.0% (2/4)" in capsys.readouterr().out


def test_custom_field_names(tmp_path):
    src = _write(tmp_path / "in.jsonl", [{"solution": "\\boxed{4}", "answer": "4"}])
    out = tmp_path / "o.jsonl"
    args = [
        "score",
        "--input",
        str(src),
        "--output",
        str(out),
        "--response-field",
        "solution",
        "--gold-field",
        "answer",
    ]
    assert main([*args, "--quiet"]) == 0
    assert _read(out)[0]["correct"] is True


@pytest.mark.parametrize(
    "lines, message",
    [
        (['{"response": "a", "gold": "1"}', "{not json"], "in.jsonl:2: invalid JSON"),
        (['{"response": "a"}'], "in.jsonl:1: missing field 'gold' (fields: response)"),
        (["[1, 2]"], "in.jsonl:1: expected a JSON object, got list"),
        (['{"response": 5, "gold": "5"}'], "in.jsonl:1: field 'response' must be a string"),
    ],
)
def test_bad_input_names_the_line(tmp_path, capsys, lines, message):
    code = main(["score", "--input", str(_write(tmp_path / "in.jsonl", lines)), "--output", str(tmp_path / "o.jsonl")])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o.jsonl").exists()


def test_missing_input_file(tmp_path, capsys):
    assert main(["score", "--input", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_resume_scores_only_the_rest_and_repairs_a_torn_line(tmp_path, capsys):
    src = _write(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "o.jsonl"
    main(["score", "--input", str(src), "--output", str(out), "--quiet"])
    full = out.read_text()
    first_two = "".join(full.splitlines(keepends=True)[:2])
    out.write_text(first_two + '{"id": 3, "respo')  # a run killed mid-write
    capsys.readouterr()
    assert main(["score", "--input", str(src), "--output", str(out), "--quiet"]) == 0
    assert "2 rows were already scored, 2 scored now" in capsys.readouterr().out
    assert [r["id"] for r in _read(out)] == [1, 2, 3, 4]
    assert _read(out) == [json.loads(line) for line in full.splitlines()]


def test_resume_refuses_an_output_of_other_data(tmp_path, capsys):
    out = tmp_path / "o.jsonl"
    main(["score", "--input", str(_write(tmp_path / "a.jsonl", ROWS)), "--output", str(out), "--quiet"])
    other = [{**r, "gold": "99"} for r in ROWS]
    assert main(["score", "--input", str(_write(tmp_path / "b.jsonl", other)), "--output", str(out)]) == 2
    assert "does not match input row 1" in capsys.readouterr().err


def test_console_script_starts_without_heavy_imports():
    code = (
        "import sys; from prime_eval.cli import build_parser; build_parser(); import prime_eval.verify.math; "
        "print(sorted(m for m in ('sympy', 'torch', 'vllm', 'deepspeed', 'tqdm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_code_benchmark_rows_run_against_their_tasks(shared_data, tmp_path):
    rows = read_jsonl(shared_data / "humaneval" / "HumanEval.jsonl")[:2]
    src = _write(
        tmp_path / "gens.jsonl",
        [
            {
                "task_id": rows[0]["task_id"],
                "response": f"```python\n{rows[0]['prompt']}{rows[0]['canonical_solution']}```",
            },
            {
                "task_id": rows[1]["task_id"],
                "response": "```python\ndef separate_paren_groups(s):\n    return []\n```",
            },
        ],
    )
    out = tmp_path / "scored.jsonl"
    args = ["score", "--benchmark", "humaneval", "--data-dir", str(shared_data), "--input", str(src), "--output",
            str(out)]  # fmt: skip
    assert main([*args, "--quiet"]) == 0
    scored = _read(out)
    assert [r["correct"] for r in scored] == [True, False]
    assert [r["task_id"] for r in scored] == [rows[0]["task_id"], rows[1]["task_id"]]
    assert scored[1]["verify_details"]["tests"], "per-test details are kept"


def test_code_benchmark_unknown_id_names_the_line(shared_data, tmp_path, capsys):
    src = _write(
        tmp_path / "gens.jsonl", [{"task_id": "HumanEval/0", "response": "x"}, {"task_id": "Nope/1", "response": "x"}]
    )
    args = [
        "score",
        "--benchmark",
        "humaneval",
        "--data-dir",
        str(shared_data),
        "--input",
        str(src),
        "--output",
        str(tmp_path / "o"),
    ]
    assert main(args) == 2
    assert "gens.jsonl:2: unknown task_id 'Nope/1'" in capsys.readouterr().err


def test_timeout_bounds_a_code_check(tmp_path):
    """``--timeout`` reaches the code verifier's bound on its sandbox run (code checks run outside the pool)."""
    import time

    from tests._toy_code import toy_code_benchmark

    definition = toy_code_benchmark(tmp_path)
    spin = {"task_id": 7, "response": "```python\nwhile True:\n    pass\n```"}
    src, out = _write(tmp_path / "gens.jsonl", [spin]), tmp_path / "scored.jsonl"
    start = time.monotonic()
    args = ["score", "--benchmark", str(definition), "--input", str(src), "--output", str(out), "--timeout", "1"]
    assert main([*args, "--quiet"]) == 0
    elapsed = time.monotonic() - start
    # The code verifier's own bounds (8 s a check, 6 s a test) would take over 6 s here.
    assert _read(out)[0]["correct"] is False and elapsed < 4.0
