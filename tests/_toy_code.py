"""A user's code benchmark (MBPP-shaped, two tasks) written into a folder, for tests that need no shared files."""

from __future__ import annotations

import json
from pathlib import Path

TOY_CODE = """\
name: toy_code
description: two MBPP-shaped tasks
verifier: code
code_format: mbpp
data: {local: toy.jsonl}
fields: {id: task_id, question: text, solution: code}
prompt: code
"""


def toy_code_benchmark(tmp_path: Path, yaml_text: str = TOY_CODE, rows: list[dict] | None = None) -> Path:
    rows = rows or [
        {"task_id": 7, "text": "add", "code": "def add(a, b): return a + b", "test_imports": [],
         "test_list": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"]},
        {"task_id": 8, "text": "neg", "code": "def neg(a): return -a", "test_imports": ["import math"],
         "test_list": ["assert neg(1) == -1"]},
    ]  # fmt: skip
    (tmp_path / "toy.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = tmp_path / f"{yaml_text.split()[1]}.yaml"
    path.write_text(yaml_text)
    return path
