"""FileBackend: prime's samples format and plain JSONL, matching by (benchmark, id, sample), and its errors."""

from __future__ import annotations

import json

import pytest

from prime_eval.backends import BackendError, Request, SamplingConfig, get_backend
from prime_eval.backends.file import FileBackend


def write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def req(benchmark, pid, samples=(0,)):
    return Request(f"{benchmark}/{pid}", "prompt unused", tuple(samples), {"benchmark": benchmark, "id": pid})


def run(backend, requests):
    out = {}
    backend.generate(requests, SamplingConfig(n=4), lambda r, c: out.__setitem__((r.key, c.sample), c))
    return out


def test_prime_samples_format(tmp_path):
    path = write(
        tmp_path / "samples.jsonl",
        [
            {"benchmark": "math500", "id": "a/1.json", "sample": 0, "response": "x", "score": 1.0},
            {"benchmark": "math500", "id": "a/1.json", "sample": 1, "response": "y", "finish_reason": "length"},
            {"benchmark": "aime24", "id": "a/1.json", "sample": 0, "response": "other benchmark, same id"},
            {"benchmark": "aime24", "id": 7, "sample": 0, "response": "int id", "tokens": 12},
        ],
    )
    out = run(FileBackend(path), [req("math500", "a/1.json", (1, 0)), req("aime24", "7"), req("aime24", "a/1.json")])
    assert out["math500/a/1.json", 0].text == "x" and out["math500/a/1.json", 0].finish_reason == "stop"
    assert (out["math500/a/1.json", 1].text, out["math500/a/1.json", 1].finish_reason) == ("y", "length")
    assert (out["aime24/7", 0].text, out["aime24/7", 0].tokens) == ("int id", 12)
    assert out["aime24/a/1.json", 0].text == "other benchmark, same id"


def test_plain_jsonl_with_response_or_responses_and_no_benchmark(tmp_path):
    path = write(
        tmp_path / "plain.jsonl",
        [{"id": 1, "response": "one"}, "", {"id": "2", "responses": ["s0", "s1", "s2"]}],
    )
    out = run(get_backend("file", path=str(path)), [req("gsm8k", 1), req("gsm8k", "2", (2, 0))])
    assert {k: c.text for k, c in out.items()} == {("gsm8k/1", 0): "one", ("gsm8k/2", 2): "s2", ("gsm8k/2", 0): "s0"}


def test_missing_sample_names_it_and_nothing_is_reported(tmp_path):
    path = write(tmp_path / "p.jsonl", [{"id": "2", "responses": ["s0", "s1"]}])
    calls = []
    with pytest.raises(
        BackendError, match=r"benchmark 'gsm8k' id '2' sample 3 \(1 missing in all\).*samples \[0, 1\]"
    ):
        FileBackend(path).generate([req("gsm8k", "2", (0, 3))], SamplingConfig(), lambda r, c: calls.append(c))
    assert calls == []


def test_missing_ids_hint_at_another_benchmark(tmp_path):
    plain = write(tmp_path / "p.jsonl", [{"id": f"aime-{i}", "response": "r"} for i in range(5)])
    with pytest.raises(
        BackendError, match=r"another benchmark\? \(file ids look like 'aime-0'.*requested ones like '0'"
    ):
        run(FileBackend(plain), [req("math500", str(i)) for i in range(3)])
    named = write(tmp_path / "n.jsonl", [{"benchmark": "aime24", "id": "0", "sample": 0, "response": "r"}])
    with pytest.raises(BackendError, match="the file holds benchmark\\(s\\) aime24, not math500"):
        run(FileBackend(named), [req("math500", "0")])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": 1, "response": "a"', r"bad\.jsonl:2: invalid JSON"),
        ('["id", 1]', r"bad\.jsonl:2: expected a JSON object, got list"),
        ('{"idx": 1, "response": "a"}', r"bad\.jsonl:2: expected an object with an id field \('id' or 'problem_id'"),
        ('{"id": 1}', r"bad\.jsonl:2: a row needs 'response' or 'responses'"),
        ('{"id": 1, "responses": "abc"}', r"bad\.jsonl:2: 'responses' must be a list of strings"),
        ('{"id": 1, "sample": -1, "response": "a"}', r"bad\.jsonl:2: 'sample' must be a non-negative integer"),
        (
            '{"id": 0, "response": "different"}',
            r"bad\.jsonl:2: second, different response for id '0' sample 0 \(first on line 1\)",
        ),
    ],
)
def test_bad_rows_give_the_line_number(tmp_path, line, message):
    path = write(tmp_path / "bad.jsonl", [{"id": 0, "response": "a"}, line])
    with pytest.raises(BackendError, match=message):
        FileBackend(path)


def test_identical_duplicates_are_fine_and_describe_hashes_the_file(tmp_path):
    path = write(tmp_path / "d.jsonl", [{"id": 0, "response": "a"}, {"id": 0, "sample": 0, "response": "a"}])
    info = FileBackend(path).describe()
    assert info["prompts"] == 1 and len(info["sha256"]) == 64 and info["benchmarks"] == []


def test_missing_file_and_missing_meta_id(tmp_path):
    with pytest.raises(BackendError, match="does not exist"):
        FileBackend(tmp_path / "nope.jsonl")
    backend = FileBackend(write(tmp_path / "ok.jsonl", [{"id": 0, "response": "a"}]))
    with pytest.raises(BackendError, match="has no meta\\['id'\\]"):
        run(backend, [Request("k", "p", (0,))])
