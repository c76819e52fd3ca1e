"""Benchmark data has one owner and one loader (issue 15 item 2): suites are YAML groups of the registry, code
tasks of any code benchmark load through ``load_benchmark`` (``score --benchmark``, the ``prime_code`` metric), and
golds read a reference's box with the verifier's own box grammar. No shared benchmark files needed."""

from __future__ import annotations

import pytest

from benchmarks.boxes import last_box
from benchmarks.code_tasks import LEETCODE_PREAMBLE, CodeTests
from benchmarks.loading import DataError, gold_of, load_benchmark
from benchmarks.registry import UnknownBenchmark, get_benchmark, groups, parse_benchmark_list, registry
from prime_eval.cli import main
from prime_eval.code_scoring import load_code_tasks
from prime_eval.verify.extract import last_boxed
from tests._toy_code import TOY_CODE, toy_code_benchmark


def test_a_group_stands_for_its_members_in_a_benchmark_list():
    names = [d.name for d in parse_benchmark_list("paper_math,leetcode,math500")]
    assert names == ["aime24", "amc", "math500", "minerva_math", "olympiadbench", "leetcode"]
    assert [d.name for d in parse_benchmark_list("code")] == ["humaneval", "mbpp", "leetcode", "livecodebench"]


def test_every_group_member_is_a_packaged_benchmark_of_its_kind():
    known = registry()
    for group in groups().values():
        assert group.name not in known and set(group.benchmarks) <= set(known), group
    assert {known[b].verifier for b in groups()["paper_math"].benchmarks} == {"math"}
    assert {d.name for d in known.values() if d.verifier == "code"} == set(groups()["code"].benchmarks)


def test_a_group_where_one_benchmark_is_wanted_is_a_clear_error():
    with pytest.raises(UnknownBenchmark, match=r"'paper_math' is a group of benchmarks \(aime24, amc, "):
        get_benchmark("paper_math")
    with pytest.raises(UnknownBenchmark, match="did you mean paper_math"):
        get_benchmark("paper_mat")


def test_ls_lists_the_groups(capsys):
    assert main(["ls"]) == 0
    out = capsys.readouterr().out
    assert "paper_math      group aime24, amc, math500, minerva_math, olympiadbench: " in out


def test_code_tasks_of_any_code_benchmark_load_through_the_registry(tmp_path):
    """A user's code benchmark (a YAML path, its data beside it): once only humaneval, mbpp and leetcode."""
    tasks = load_code_tasks(str(toy_code_benchmark(tmp_path)))
    assert set(tasks) == {"7", "8"}  # MBPP-style integer ids as text, as input rows carry them
    assert tasks["7"] == CodeTests(tests=("assert add(1, 2) == 3", "assert add(0, 0) == 0"), task_id="7")
    assert tasks["8"].preamble == "import math"
    loaded = load_benchmark(get_benchmark(str(tmp_path / "toy_code.yaml")))
    assert loaded.problems[0].meta["solution"] == "def add(a, b): return a + b"
    with pytest.raises(UnknownBenchmark, match="arith is not a code benchmark; code benchmarks: humaneval"):
        load_code_tasks("arith")


def test_leetcode_rows_split_at_each_assert_with_the_judges_imports(tmp_path):
    text = TOY_CODE.replace("toy_code", "toy_lc").replace("code_format: mbpp", "code_format: leetcode")
    row = {"task_id": "lc-1", "text": "q", "code": "", "test": "x = [1]\nassert f(x) == 1\nassert f([]) == 0\n"}
    (task,) = load_code_tasks(str(toy_code_benchmark(tmp_path, text, [row]))).values()
    assert task.tests == ("x = [1]\nassert f(x) == 1", "assert f([]) == 0") and task.preamble == LEETCODE_PREAMBLE


def test_an_unknown_code_format_is_refused_when_the_definition_is_read(tmp_path):
    with pytest.raises(UnknownBenchmark, match="code_format, one of"):
        get_benchmark(str(toy_code_benchmark(tmp_path, TOY_CODE.replace("code_format: mbpp", "code_format: apps"))))


def test_a_row_without_the_solution_field_is_a_data_error(tmp_path):
    rows = [{"task_id": 1, "text": "q", "test_imports": [], "test_list": ["assert True"]}]
    with pytest.raises(DataError, match="a row has no field 'code'"):
        load_code_tasks(str(toy_code_benchmark(tmp_path, rows=rows)))


@pytest.mark.parametrize("bad", [b'{"task_id": 9, "text": "q"', b"[1, 2]", b'{"text": "\xff"}'])
def test_a_benchmark_file_line_that_is_no_json_object_is_a_data_error_naming_the_line(tmp_path, bad):
    definition = get_benchmark(str(toy_code_benchmark(tmp_path)))
    with (tmp_path / "toy.jsonl").open("ab") as f:
        f.write(b"\n" + bad + b"\n")
    with pytest.raises(DataError, match=r"toy\.jsonl:4: not a JSON object"):
        load_benchmark(definition)


def test_a_benchmark_json_file_that_is_no_json_is_a_data_error_naming_the_file(tmp_path):
    definition = get_benchmark(str(toy_code_benchmark(tmp_path, TOY_CODE.replace("toy.jsonl", "toy.json"))))
    (tmp_path / "toy.json").write_text('[{"task_id": 1,')
    with pytest.raises(DataError, match=r"toy\.json: not JSON \("):
        load_benchmark(definition)


def test_a_gold_box_is_the_last_box_alone_and_the_verifier_reads_the_same_grammar():
    solution = "First $\\boxed{1}$ and $\\boxed{2}$, then \\fbox{ \\frac{1}{2} } and \\boxed{3"
    assert last_box(solution) == "\\frac{1}{2}"  # the unclosed box ends the scan; no joining of adjacent boxes
    assert gold_of({"solution": "so $\\boxed{4}$, $\\boxed{5}$"}, "boxed(solution)") == "5"
    assert last_boxed("so $\\boxed{4}$, $\\boxed{5}$") == "4, 5"  # the verifier's policy joins the run
    assert gold_of({"solution": "no box"}, "boxed(solution)") == ""


def test_the_paper_suite_named_elsewhere_is_the_group():
    """run's default and presets and the runner's paper_average name the suite too: until they name the group,
    they must list the same benchmarks."""
    from prime_eval.run_config import PAPER_MATH
    from prime_eval.runner import PAPER_BENCHMARKS

    paper = groups()["paper_math"].benchmarks
    assert tuple(d.name for d in parse_benchmark_list(PAPER_MATH)) == paper
    assert tuple(PAPER_BENCHMARKS) == paper


@pytest.fixture
def definitions(tmp_path, monkeypatch):
    """A packaged-definitions folder of the test's own: arith, and whatever the test writes beside it."""
    import benchmarks.registry as reg

    caches = (reg._packaged_files, reg._packaged, reg.groups)
    (tmp_path / "arith.yaml").write_text((reg.DEFINITIONS / "arith.yaml").read_text())
    monkeypatch.setattr(reg, "DEFINITIONS", tmp_path)
    for cached in caches:
        cached.cache_clear()
    yield tmp_path
    monkeypatch.undo()
    for cached in caches:
        cached.cache_clear()


def test_a_group_with_a_misspelt_member_is_refused(definitions):
    import benchmarks.registry as reg

    (definitions / "suite.yaml").write_text("group: suite\nbenchmarks: [arith, arth]\n")
    with pytest.raises(ValueError, match="suite.yaml: a group is named as its file, not as a benchmark, and lists"):
        groups()
    (definitions / "suite.yaml").write_text("group: suite\nbenchmarks: [arith]\n")
    reg._packaged_files.cache_clear()
    groups.cache_clear()
    assert [d.name for d in parse_benchmark_list("suite")] == ["arith"]
