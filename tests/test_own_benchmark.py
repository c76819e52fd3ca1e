"""Your own benchmark without editing the package (issue 14, items 5 and 14): ``--include-path DIR`` or a path to
one YAML; local JSONL beside the YAML; a Hub dataset id read offline from a folder in the Hub layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.loading import DataError, load_benchmark
from benchmarks.registry import UnknownBenchmark, get_benchmark, parse_benchmark_list
from prime_eval.cli import main
from prime_eval.run_config import build_config
from prime_eval.runner import run_eval
from tests._fake_backend import FakeBackend

TOY = """\
name: toy
description: three sums, to show the format
verifier: math
data:
  local: toy.jsonl
fields: {id: qid, question: q, gold: a}
prompt: math
decoding: {max_tokens: 256}
"""
ROWS = [{"qid": f"t{i}", "q": f"What is {i} + {i}?", "a": str(2 * i)} for i in range(3)]


def _bench(folder: Path, text: str = TOY, rows=ROWS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "toy.yaml").write_text(text)
    (folder / "toy.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_include_path_and_a_yaml_path_both_run(tmp_path):
    folder = _bench(tmp_path / "mybench")
    answers = {"t0": "\\boxed{0}", "t1": "\\boxed{2}", "t2": "\\boxed{5}"}
    by_folder = run_eval(build_config({"model": "m", "benchmarks": "toy", "include_path": str(folder),
                                       "output": str(tmp_path / "a")}), backend=FakeBackend(answers), progress=False)  # fmt: skip
    by_file = run_eval(build_config({"model": "m", "benchmarks": str(folder / "toy.yaml"),
                                     "output": str(tmp_path / "b")}), backend=FakeBackend(answers), progress=False)  # fmt: skip
    for results in (by_folder, by_file):
        r = results["benchmarks"]["toy"]
        assert r["num_problems"] == 3 and r["metrics"]["avg"]["mean"] == pytest.approx(2 / 3)
        assert r["data"]["path"] == str(folder / "toy.jsonl") and r["definition"] == str(folder / "toy.yaml")


def test_unknown_name_points_to_include_path_and_user_names_get_suggestions(tmp_path):
    with pytest.raises(UnknownBenchmark, match="--include-path DIR"):
        get_benchmark("toy")
    folder = _bench(tmp_path / "b")
    with pytest.raises(UnknownBenchmark, match="did you mean toy"):
        get_benchmark("tyo", folder)


def test_a_user_definition_may_not_take_a_packaged_name(tmp_path):
    folder = _bench(tmp_path / "b", TOY.replace("name: toy", "name: math500"))
    (folder / "toy.yaml").rename(folder / "math500.yaml")
    with pytest.raises(UnknownBenchmark, match="'math500' of .* is already defined by .*definitions"):
        parse_benchmark_list("math500", folder)


def test_bad_user_definition_names_the_file(tmp_path):
    folder = _bench(tmp_path / "b", TOY.replace("fields: {id: qid, question: q, gold: a}\n", ""))
    with pytest.raises(UnknownBenchmark, match="toy.yaml: missing or malformed key 'fields'"):
        parse_benchmark_list("toy", folder)


def test_ls_lists_the_users_benchmarks(tmp_path, capsys):
    folder = _bench(tmp_path / "b")
    assert main(["ls", "--include-path", str(folder)]) == 0
    assert any(line.startswith("toy ") for line in capsys.readouterr().out.splitlines())


def test_hub_id_is_read_offline_from_a_folder_in_the_hub_layout(tmp_path, monkeypatch):
    """``data.hf.path`` goes to ``datasets.load_dataset`` as given: a folder holding data/test-*.jsonl is the
    layout of a Hub dataset repository, read without a network."""
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    hub = tmp_path / "hub" / "org--toy"
    (hub / "data").mkdir(parents=True)
    (hub / "data" / "test-00000-of-00001.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    text = TOY.replace("  local: toy.jsonl\n", f"  hf: {{path: {hub}, split: test}}\n")
    folder = tmp_path / "defs"
    folder.mkdir()
    (folder / "toy.yaml").write_text(text)
    loaded = load_benchmark(get_benchmark("toy", folder))
    assert [p.reference for p in loaded.problems] == ["0", "2", "4"] and loaded.source["kind"] == "hf"
    missing = folder / "toy.yaml"
    missing.write_text(text.replace(str(hub), str(tmp_path / "nowhere")))
    with pytest.raises(DataError, match=r"toy: no local data .*cannot load '.*nowhere' from the Hub"):
        load_benchmark(get_benchmark("toy", folder))


def test_lm_eval_tasks_offline_skip_what_is_missing_and_name_no_path(tmp_path, monkeypatch, capsys):
    """All benchmarks, offline, with only toy's data at hand: the others are skipped with a warning, and the
    folder written names no path of this machine (it can be moved). A named benchmark that cannot be read
    stops the command before anything is written."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PRIME_BENCHMARK_DATA", str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    folder = _bench(tmp_path / "mine")
    out = tmp_path / "tasks"
    assert main(["lm-eval-tasks", "--output", str(out), "--include-path", str(folder)]) == 0
    captured = capsys.readouterr()
    assert "skipped, data unavailable: math500" in captured.err
    written = sorted(p.name for p in out.glob("*.yaml"))
    assert "prime_toy.yaml" in written and "prime_math500.yaml" not in written
    for path in out.rglob("*"):
        if path.is_file():
            assert str(tmp_path) not in path.read_text(), path
    named = tmp_path / "named"
    assert main(["lm-eval-tasks", "--output", str(named), "--benchmarks", "toy,math500", "--include-path",
                 str(folder)]) == 2  # fmt: skip
    assert "math500" in capsys.readouterr().err and not named.exists()
