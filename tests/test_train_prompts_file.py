"""Training prompts from a user's JSONL file (``data.path``) are read by the one JSONL reader: every line that is
no JSON object is a one-line ``ConfigError`` naming the file and line, and a ``.gz`` file is read like a plain one."""

from __future__ import annotations

import gzip
import json

import pytest

from benchmarks.loading import DataError
from prime_common.errors import UserError
from prime_train.config import ConfigError, DataConfig
from prime_train.data import load_prompts


def _load(path):
    return load_prompts(DataConfig(benchmark=None, path=str(path)))


@pytest.mark.parametrize(
    "bad_line",
    [b'"question gold"', b"[1, 2]", b'{"question": "q", "gold": "4"', b'{"question": "\xff", "gold": "4"}'],
    ids=["json-string", "json-list", "torn-object", "bad-utf8"],
)
def test_a_line_that_is_no_json_object_is_a_config_error_naming_the_line(tmp_path, bad_line):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"question": "1+1?", "gold": "2"}\n\n' + bad_line + b"\n")
    with pytest.raises(ConfigError, match=r"d\.jsonl:3: not a JSON object"):
        _load(path)


def test_a_gzip_prompt_file_reads_like_the_plain_one(tmp_path):
    rows = [{"id": "a", "question": "1+1?", "gold": "2"}, {"question": "2+2?", "gold": 4}]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    (tmp_path / "d.jsonl").write_text(text)
    (tmp_path / "d.jsonl.gz").write_bytes(gzip.compress(text.encode()))
    plain, _ = _load(tmp_path / "d.jsonl")
    packed, _ = _load(tmp_path / "d.jsonl.gz")
    assert [(i.id, i.question, i.gold) for i in packed] == [(i.id, i.question, i.gold) for i in plain]
    assert [(i.id, i.gold) for i in plain] == [("a", "2"), ("2", 4)]  # an id-less row is named by its row number


def test_a_damaged_gzip_prompt_file_is_a_config_error(tmp_path):
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"question": "q", "gold": "1"}\n')[:-6])
    with pytest.raises(ConfigError, match=r"d\.jsonl\.gz: not a readable gzip file"):
        _load(path)


def test_a_benchmark_that_cannot_be_read_reaches_the_user_as_the_loaders_own_error():
    with pytest.raises(DataError, match="arith: size must be >= 0") as caught:
        load_prompts(DataConfig(benchmark="arith", size=-1))
    assert isinstance(caught.value, UserError)  # prime-train's main reports it as one line
