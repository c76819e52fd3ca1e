"""lm-evaluation-harness results files in prime-eval report: a real file written by lm_eval's own tracker (prime's
task on a scripted model), and a hand-written one for a task prime does not define."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

lm_eval = pytest.importorskip("lm_eval")

from lm_eval.loggers import EvaluationTracker  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402

from prime_eval.cli import main  # noqa: E402
from prime_eval.integrations.lm_eval_tasks import write_task_dir  # noqa: E402
from prime_eval.report.compare import MCNEMAR  # noqa: E402
from prime_eval.report.load import load_run  # noqa: E402
from tests.test_lm_eval_integration import ScriptedLM  # noqa: E402
from tests.test_report import DATA, LIMIT, WRONG, make_runs, problems  # noqa: E402


@pytest.fixture(scope="module")
def lm_eval_output(tmp_path_factory) -> Path:
    """``lm_eval --output_path OUT --log_samples`` on prime_math500: problems 0, 2, 4 answered right."""
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    root = tmp_path_factory.mktemp("lm_eval_report")
    write_task_dir(root / "tasks", "math500", data_dir=DATA)
    answers = {
        p.question: f"So $\\boxed{{{p.reference if k % 2 == 0 else -7}}}$." for k, p in enumerate(problems("math500"))
    }
    tracker = EvaluationTracker(output_path=str(root / "out"))
    results = lm_eval.simple_evaluate(
        model=ScriptedLM(answers), tasks=["prime_math500"], limit=LIMIT, log_samples=True,
        task_manager=TaskManager(include_path=str(root / "tasks"), include_defaults=False),
        evaluation_tracker=tracker, gen_kwargs="max_gen_toks=512",
    )  # fmt: skip
    samples = results.pop("samples")  # what lm_eval's command line does before saving
    tracker.save_results_aggregated(results=results, samples=samples)
    for task in results["configs"]:
        tracker.save_results_samples(task_name=task, samples=samples[task])
    return root / "out"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory.getbasetemp() / "report_runs")


def test_real_lm_eval_file_is_a_run_under_prime_names(lm_eval_output, runs, tmp_path):
    (results_file,) = lm_eval_output.glob("*/results_*.json")
    run = load_run(lm_eval_output)  # the --output_path folder: the model subfolder and newest file are found
    assert run.kind == "lm-eval" and run.path == results_file
    bench = run.benchmarks["math500"]
    assert bench.source_name == "prime_math500" and bench.metric_name == "acc,none"
    assert bench.score.mean == pytest.approx(0.5)
    assert bench.score.stderr == pytest.approx(
        json.loads(results_file.read_text())["results"]["prime_math500"]["acc_stderr,none"]
    )
    assert (bench.num_problems, bench.num_samples, bench.full_size) == (LIMIT, LIMIT, len(problems("math500", None)))
    s = bench.settings
    assert (s.decoding, s.n, s.prompt, s.max_tokens) == ("greedy", 1, "plain", 512)

    out = tmp_path / "rep"
    assert main(["report", str(runs["old"]), str(results_file), "--output", str(out)]) == 0
    rep = json.loads((out / "report.json").read_text())
    row = next(r for r in rep["leaderboard"]["rows"] if r["kind"] == "lm-eval")
    notes = {f["marker"]: f["text"] for f in rep["leaderboard"]["footnotes"]}
    texts = " ".join(notes[m] for m in row["cells"]["math500"]["notes"])
    assert "lm-eval task prime_math500, metric acc,none" in texts
    assert "prompt mode plain (reference: prime)" in texts and "max_tokens 512 (reference: 8192)" in texts
    assert "math500" in rep["leaderboard"]["columns"] and "prime_math500" not in rep["leaderboard"]["columns"]


def test_compare_harness_run_with_lm_eval_run_by_problem_id(lm_eval_output, runs, tmp_path):
    (results_file,) = lm_eval_output.glob("*/results_*.json")
    out = tmp_path / "cmp"
    assert main(["report", str(runs["old"]), str(results_file), "--compare", "--output", str(out)]) == 0
    comparison = json.loads((out / "report.json").read_text())["comparison"]
    (m,) = comparison["benchmarks"]
    # old: right on problems 0, 1, 2; lm-eval: right on 0, 2, 4 -> b = 1 (problem 1), c = 1 (problem 4)
    assert (m["shared"], m["a_better"], m["b_better"], m["test"]) == (LIMIT, 1, 1, MCNEMAR)
    assert m["p_value"] == 1.0
    ids = [p.id for p in problems("math500")]
    changed = {c["problem_id"]: c for c in m["changes"]}
    assert set(changed) == {ids[1], ids[4]}
    assert changed[ids[1]]["new_answer"] == "-7"  # prime's extractor on lm-eval's logged response
    assert changed[ids[4]]["old_answer"] == WRONG


def test_hand_written_foreign_task(tmp_path):
    """lm-eval's documented shape for a task prime does not define: shown under its own name and metric."""
    results = {
        "results": {
            "gsm8k": {
                "alias": "gsm8k",
                "exact_match,strict-match": 0.25,
                "exact_match_stderr,strict-match": 0.05,
                "exact_match,flexible-extract": 0.3,
                "exact_match_stderr,flexible-extract": "N/A",
            },
            "mmlu_group": {"alias": "mmlu"},
        },  # fmt: skip
        "n-samples": {"gsm8k": {"original": 1319, "effective": 1319}},
        "configs": {
            "gsm8k": {"task": "gsm8k", "repeats": 1, "generation_kwargs": {"until": ["Question:"], "do_sample": False}}
        },  # fmt: skip
        "config": {"model": "hf", "model_args": "pretrained=Qwen/Qwen2.5-7B,dtype=bfloat16"},
        "versions": {"gsm8k": 3},
    }
    path = tmp_path / "results_2025-01-01T00-00-00.json"
    path.write_text(json.dumps(results))
    run = load_run(path)
    assert run.model == "Qwen/Qwen2.5-7B"
    assert list(run.benchmarks) == ["gsm8k"]  # the group header has no metric of its own
    g = run.benchmarks["gsm8k"]
    assert (g.score.mean, g.score.stderr, g.metric_name) == (0.25, 0.05, "exact_match,strict-match")
    assert g.settings.max_tokens == 256 and not g.subset  # lm-eval's default limit; the whole test set
    out = tmp_path / "rep"
    assert main(["report", str(path), "--output", str(out), "--references", "none"]) == 0
    md = (out / "report.md").read_text()
    assert "| source | gsm8k | avg5 |" in md
    assert "25.0 ± 5.0 (1319×1)" in md and "metric exact_match,strict-match" in md
    # stderr "N/A" on another metric, and a sampled task with repeats
    results["configs"]["gsm8k"]["generation_kwargs"] = {"do_sample": True, "temperature": 0.7, "max_gen_toks": 1024}
    results["configs"]["gsm8k"]["repeats"] = 4
    results["results"]["gsm8k"] = {"exact_match,flexible-extract": 0.3, "exact_match_stderr,flexible-extract": "N/A"}
    path.write_text(json.dumps(results))
    g = load_run(path).benchmarks["gsm8k"]
    assert (g.score.stderr, g.settings.decoding, g.settings.temperature, g.settings.n, g.num_samples) == (
        None,
        "sampled",
        0.7,
        4,
        4 * 1319,
    )


def test_lm_eval_errors(tmp_path, capsys):
    path = tmp_path / "results_x.json"
    path.write_text(json.dumps({"results": {"t": 3}, "versions": {}}))
    assert main(["report", str(path), "--output", str(tmp_path / "o")]) == 2
    assert "results['t'] is not a mapping" in capsys.readouterr().err
    path.write_text(json.dumps({"something": 1}))
    assert main(["report", str(path), "--output", str(tmp_path / "o")]) == 2
    assert "neither a prime-eval results.json nor an lm-evaluation-harness results file" in capsys.readouterr().err


def test_compare_reads_long_logged_responses_in_linear_time(lm_eval_output, runs, tmp_path):
    """The answers of lm-eval samples are extracted by prime's extractor: a 100 KiB response (a model that repeats
    itself) must not make the report quadratic (it took ~47 s before the extractor's Minerva scan was linear)."""
    import shutil
    import time

    copy = tmp_path / "lm_eval_long"
    shutil.copytree(lm_eval_output, copy)
    (samples_file,) = copy.glob("*/samples_prime_math500_*.jsonl")
    rows = [json.loads(line) for line in samples_file.read_text().splitlines()]
    filler = "The final answer is 5. " * 4500  # ~100 KiB
    for row in rows:
        row["resps"] = [[filler + r for r in resp] for resp in row["resps"]]
        row["filtered_resps"] = [filler + r for r in row["filtered_resps"]]
    samples_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (results_file,) = copy.glob("*/results_*.json")
    start = time.monotonic()
    assert main(["report", str(runs["old"]), str(results_file), "--compare", "--output", str(tmp_path / "c")]) == 0
    assert time.monotonic() - start < 20  # plots and the rest take ~2-7 s on a loaded 2-core machine
    comparison = json.loads((tmp_path / "c" / "report.json").read_text())["comparison"]
    assert comparison["benchmarks"][0]["shared"] == LIMIT


def test_a_folder_of_several_lm_eval_results_files_reads_every_task(tmp_path):
    """Each lm_eval invocation writes its own results file: a folder is every task of every file, the newest file
    winning for a task run twice."""

    def results(task: str, score: float) -> dict:
        return {"results": {task: {"acc,none": score, "acc_stderr,none": 0.01}},
                "n-samples": {task: {"original": 10, "effective": 10}}, "configs": {task: {"task": task}},
                "config": {"model": "hf", "model_args": "pretrained=m"}, "versions": {task: 1}}  # fmt: skip

    folder = tmp_path / "m"
    folder.mkdir()
    for stamp, task, score in (("01", "gsm8k", 0.2), ("02", "arc_easy", 0.5), ("03", "gsm8k", 0.4)):
        (folder / f"results_2025-01-{stamp}T00-00-00.json").write_text(json.dumps(results(task, score)))
    run = load_run(folder)
    assert sorted(run.benchmarks) == ["arc_easy", "gsm8k"]
    assert run.benchmarks["gsm8k"].score.mean == 0.4 and run.benchmarks["arc_easy"].score.mean == 0.5
    assert len(run.info["results_files"]) == 3


def test_a_prime_group_runs_in_lm_eval_as_an_unweighted_group(tmp_path):
    """``lm-eval-tasks --benchmarks paper_math`` writes the five tasks and the ``prime_paper_math`` group; lm-eval
    runs the group and reports its mean over the members, each counted once as the paper counts them."""
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    names = write_task_dir(tmp_path / "tasks", "paper_math", data_dir=DATA)
    assert names[-1] == "prime_paper_math" and len(names) == 6
    group = yaml.safe_load((tmp_path / "tasks" / "prime_paper_math.yaml").read_text())
    assert group["aggregate_metric_list"][0]["weight_by_size"] is False
    # the stand-in data asks every benchmark arith's same problems: 2 of the first 6 right on each
    answers = {
        p.question: f"$\\boxed{{{p.reference if k % 3 == 0 else WRONG}}}$" for k, p in enumerate(problems("amc"))
    }
    results = lm_eval.simple_evaluate(
        model=ScriptedLM(answers), tasks=["prime_paper_math"], limit=LIMIT, gen_kwargs="max_gen_toks=64",
        task_manager=TaskManager(include_path=str(tmp_path / "tasks"), include_defaults=False),
    )  # fmt: skip
    members = [results["results"][f"prime_{b}"]["acc,none"] for b in ("aime24", "amc", "math500")]
    assert members == [2 / LIMIT] * 3
    assert results["groups"]["prime_paper_math"]["acc,none"] == pytest.approx(2 / LIMIT)
