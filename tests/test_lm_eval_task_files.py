"""The documents ``prime-eval lm-eval-tasks`` writes go through the one JSONL module both ways: written whole
(atomically) as readable UTF-8, read back by the hook to the rows the loader produced, and a damaged file is
reported by path and line. No shared benchmark files needed: a user's benchmark with non-ASCII text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.loading import load_benchmark
from benchmarks.registry import get_benchmark
from prime_eval.integrations.lm_eval_hooks import load_docs_from
from prime_eval.integrations.lm_eval_tasks import write_task_dir

pytest.importorskip("datasets")

TOY = """\
name: toy
description: sums in French
verifier: math
data: {local: toy.jsonl}
fields: {id: qid, question: q, gold: a}
prompt: math
"""


def _toy(folder: Path) -> Path:
    folder.mkdir()
    (folder / "toy.yaml").write_text(TOY)
    rows = [
        {"qid": f"t{i}", "q": f"Combien font {i} + {i} ? (réponse en chiffres)", "a": str(2 * i)} for i in range(3)
    ]
    (folder / "toy.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_written_documents_are_readable_utf8_and_read_back_to_the_loaded_problems(tmp_path):
    folder = _toy(tmp_path / "bench")
    out = tmp_path / "tasks"
    assert write_task_dir(out, "toy", include_path=str(folder)) == ["prime_toy"]
    data = out / "data" / "toy.jsonl"
    assert "réponse" in data.read_text(encoding="utf-8")  # as the user wrote it, not \u00e9
    assert [p.name for p in (out / "data").iterdir()] == ["toy.jsonl"]  # no temporary file left
    docs = load_docs_from(data)["test"]
    problems = load_benchmark(get_benchmark("toy", str(folder))).problems
    assert [(d["id"], d["question"], json.loads(d["reference"])) for d in docs] == [
        (p.id, p.question, p.reference) for p in problems
    ]


def test_a_damaged_document_file_names_its_line(tmp_path):
    data = tmp_path / "toy.jsonl"
    data.write_text('{"id": "t0", "question": "q", "reference": "1", "verifier": "math"}\n{"id": "t1", "qu\n')
    with pytest.raises(ValueError, match=r"toy\.jsonl:2: not a JSON object"):
        load_docs_from(data)
