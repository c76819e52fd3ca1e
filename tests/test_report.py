"""prime-eval report on real run folders: runs made by `prime-eval run --backend file` from responses whose
verdicts are known, a training run folder with three evaluated checkpoints, and the clear errors.

The runs score the paper's five math benchmarks on stand-in data: the generated ``arith`` problems written in each
benchmark's own file layout (its definition's fields), read through the real loader with ``--data-dir``. So the
report, its references and its averages are exercised without the shared benchmark files."""

from __future__ import annotations

import atexit
import json
import math
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from benchmarks.loading import load_benchmark
from benchmarks.registry import get_benchmark, groups
from prime_eval.cli import main
from prime_eval.report.build import build_report
from prime_eval.report.compare import MCNEMAR, PERMUTATION
from prime_eval.report.load import load_run

MATH5 = groups()["paper_math"].benchmarks
LIMIT = 6
WRONG = "-98765"  # never an arith gold


def _field(expression: str) -> tuple[str, str]:
    """("first", "final_answer") for "first(final_answer)", ("", "answer") for "answer"."""
    func, _, arg = expression.rstrip(")").partition("(")
    return (func, arg) if arg else ("", func)


def stand_in_data(root: Path) -> Path:
    """A data folder holding, for each paper math benchmark, arith test problems as rows of that benchmark's file:
    its id and question fields, its solution and gold fields written so that the definition's expressions read
    arith's back (the gold last: Minerva's is its solution's box), and whatever its filter keeps."""
    arith = load_benchmark(get_benchmark("arith"), limit=30).problems
    wrap = {"first": lambda v: [v], "boxed": lambda v: f"\\boxed{{{v}}}", "lstrip_zeros": str, "": str}
    for name in MATH5:
        d = get_benchmark(name)
        rows = []
        for p in arith:
            row = {d.id_field: f"{name}-{p.id}", d.question_field: p.question}
            if d.data.filter_field:
                row[d.data.filter_field] = d.data.filter_contains[0]
            for expression, value in ((d.solution, p.meta["solution"]), (d.gold, p.reference)):
                func, field = _field(expression)
                row[field] = wrap[func](value)
            rows.append(row)
        path = root / d.data.local
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


DATA = stand_in_data(Path(tempfile.mkdtemp(prefix="prime-report-data-")))
atexit.register(shutil.rmtree, DATA, True)


def problems(name: str, limit: int = LIMIT):
    return load_benchmark(get_benchmark(name), data_dir=DATA, limit=limit).problems


def right_old(bench_index: int, k: int) -> bool:
    """Run "old": on the i-th math benchmark the first i + 1 of 6 problems are right (1/6, 2/6, ... 5/6)."""
    return k <= bench_index


def right_new(bench_index: int, k: int) -> bool:
    """Run "new": like old, except on math500 (index 2) problem 1 turns wrong and problems 3, 4, 5 turn right."""
    if bench_index == 2:
        return k in (0, 2, 3, 4, 5)
    return right_old(bench_index, k)


def _response(p, right: bool) -> str:
    return f"The answer is $\\boxed{{{p.reference if right else WRONG}}}$."


def _file_run(out: Path, rows: list[dict], benchmarks: str, *extra: str) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    responses = out.parent / f"{out.name}.responses.jsonl"
    responses.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["run", "--backend", "file", "--model", str(responses), "--benchmarks", benchmarks, "--limit", str(LIMIT),
            "--output", str(out), "--data-dir", str(DATA), "--prompt-mode", "prime", "--quiet", *extra]  # fmt: skip
    assert main(args) == 0
    return out


def _greedy_rows(rule) -> list[dict]:
    return [
        {"benchmark": b, "id": p.id, "response": _response(p, rule(i, k))}
        for i, b in enumerate(MATH5)
        for k, p in enumerate(problems(b))
    ]


def sampled_rights(k: int) -> int:
    """Run "sampled" (n=4) on math500: problem k has min(k, 4) right samples of 4."""
    return min(k, 4)


def make_runs(root: Path) -> dict[str, Path]:
    """Every run the report tests read, built once per session (other report test modules reuse the folder)."""
    done = root / "done"
    paths = {name: root / name for name in ("old", "new", "sampled", "chat", "train")}
    if done.exists():
        return paths
    root.mkdir(parents=True, exist_ok=True)
    _file_run(paths["old"], _greedy_rows(right_old), ",".join(MATH5))
    _file_run(paths["new"], _greedy_rows(right_new), ",".join(MATH5))
    rows = [{"benchmark": "math500", "id": p.id, "responses": [_response(p, j < sampled_rights(k)) for j in range(4)]}
            for k, p in enumerate(problems("math500"))]  # fmt: skip
    _file_run(paths["sampled"], rows, "math500", "--n", "4", "--temperature", "0.6", "--top-p", "0.95")
    rows = [{"benchmark": "math500", "id": p.id, "response": _response(p, True)} for p in problems("math500")]
    _file_run(paths["chat"], rows, "math500", "--prompt-mode", "chat", "--max-tokens", "1000")
    train = paths["train"]
    for step, rights in ((10, 1), (20, 3), (30, 5)):  # math500 problems right at each checkpoint (aime24: 1 fewer)
        rows = [{"benchmark": b, "id": p.id, "response": _response(p, k < rights - (b == "aime24"))}
                for b in ("aime24", "math500") for k, p in enumerate(problems(b))]  # fmt: skip
        _file_run(train / "eval" / f"step-{step}", rows, "aime24,math500")
    log = [{"step": s, "rollout/accuracy": s / 40, "policy/loss": 0.1} for s in range(1, 31)]
    (train / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log) + '{"step": 31, "rollout/acc')
    done.touch()
    return paths


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    return make_runs(tmp_path_factory.getbasetemp() / "report_runs")


def _report(runs, tmp_path, *names, extra=()) -> tuple[int, dict, str, str]:
    out = tmp_path / "report"
    code = main(["report", *(str(runs[n]) for n in names), "--output", str(out), *extra])
    if code != 0:
        return code, {}, "", ""
    return (code, json.loads((out / "report.json").read_text()), (out / "report.md").read_text(),
            (out / "report.html").read_text())  # fmt: skip


def _row(report: dict, label: str) -> dict:
    return next(r for r in report["leaderboard"]["rows"] if r["label"] == label)


def _notes(report: dict, cell: dict) -> list[str]:
    texts = {f["marker"]: f["text"] for f in report["leaderboard"]["footnotes"]}
    return [texts[m] for m in cell["notes"]]


def test_leaderboard_scores_errors_counts_and_paper_average(runs, tmp_path):
    code, rep, md, html = _report(runs, tmp_path, "old", "new")
    assert code == 0
    old = _row(rep, "old")
    for i, b in enumerate(MATH5):
        cell = old["cells"][b]
        p = (i + 1) / LIMIT
        assert cell["mean"] == pytest.approx(p)
        # standard error over 6 problems of a 0/1 score with i+1 ones: sqrt(p(1-p) * 6/5) / sqrt(6)
        assert cell["stderr"] == pytest.approx(math.sqrt(p * (1 - p) * LIMIT / (LIMIT - 1) / LIMIT))
        assert (cell["num_problems"], cell["num_samples"]) == (LIMIT, LIMIT)
    # avg5: unweighted mean of 1/6 .. 5/6 = 0.5; its error combines the five as independent
    avg5 = old["averages"]["avg5"]
    assert avg5["mean"] == pytest.approx(0.5)
    expected_se = math.sqrt(sum(old["cells"][b]["stderr"] ** 2 for b in MATH5)) / 5
    assert avg5["stderr"] == pytest.approx(expected_se)
    assert old["averages"]["avg7"] is None  # Table 1's average needs leetcode and livecodebench too
    # the new run: math500 5/6 instead of 3/6
    assert _row(rep, "new")["cells"]["math500"]["mean"] == pytest.approx(5 / 6)
    assert _row(rep, "new")["averages"]["avg5"]["mean"] == pytest.approx((1 + 2 + 5 + 4 + 5) / 30)
    # default references: Table 1, with Eurus-2-7B-PRIME's recomputed average and its README average
    prime = _row(rep, "Eurus-2-7B-PRIME [eurus2]")
    assert prime["averages"]["avg7"]["mean"] == pytest.approx((26.7 + 57.8 + 79.2 + 38.6 + 42.1 + 33.3 + 28.6) / 700)
    # (26.7 + 57.8 + 79.2 + 38.6 + 42.1) / 5 = 48.88, the README's 48.9
    assert prime["averages"]["avg5"]["mean"] == pytest.approx(0.4888)
    assert any("published average 43.9" in t for t in _notes(rep, prime["averages"]["avg7"]))
    # ranked by avg5 (the runs have no avg7): 0.5667 (new) > 0.5 (old) > ... the 48.9 of Eurus-2-7B-PRIME
    labels = [r["label"] for r in rep["leaderboard"]["rows"]]
    assert rep["leaderboard"]["ranked_by"] == "avg5"
    assert labels.index("new") < labels.index("old") < labels.index("Eurus-2-7B-PRIME [eurus2]")
    assert "| **old** | run | 16.7 ± 16.7 (6×1) [a]" in md
    assert md.count("| **") == 2


def test_settings_flags(runs, tmp_path):
    code, rep, md, _ = _report(
        runs, tmp_path, "old", "sampled", "chat", extra=["--references", "eurus2", "eurus2_avg16"]
    )
    assert code == 0
    old_notes = _notes(rep, _row(rep, "old")["cells"]["aime24"])
    # greedy n=1 with PRIME's prompt and token limits matches Table 1; only the subset and avg@16's set differ
    assert not any("differ from eurus2 " in t for t in old_notes)
    assert any(t.startswith("a subset") for t in old_notes)
    assert any("eurus2_avg16" in t and "greedy decoding (reference: sampled)" in t and "n=1 (reference: n=16)" in t
               for t in old_notes)  # fmt: skip
    sampled = _notes(rep, _row(rep, "sampled")["cells"]["math500"])
    assert any("from eurus2 " in t and "sampled decoding (reference: greedy)" in t and "n=4 (reference: n=1)" in t
               for t in sampled)  # fmt: skip
    chat = " ".join(_notes(rep, _row(rep, "chat")["cells"]["math500"]))
    assert "prompt mode chat (reference: prime)" in chat and "max_tokens 1000 (reference: 8192)" in chat
    # math500 is not in Table 12, so no avg@16 flag there; the n=4 run's sampled settings are in its row
    assert "eurus2_avg16" not in " ".join(sampled)
    assert "T=0.6, top_p=0.95, n=4" in _row(rep, "sampled")["settings"]
    assert re.search(r"\[[a-z]\] settings differ from eurus2 \(", md)


def test_curves_for_sampled_runs(runs, tmp_path):
    code, rep, md, html = _report(runs, tmp_path, "sampled", extra=["--references", "none"])
    assert code == 0 and rep["references"] == []
    metrics = rep["runs"][0]["benchmarks"]["math500"]["metrics"]
    rights = [sampled_rights(k) for k in range(LIMIT)]
    assert metrics["avg"]["mean"] == pytest.approx(sum(rights) / (4 * LIMIT))
    assert metrics["pass@4"]["mean"] == pytest.approx(sum(r > 0 for r in rights) / LIMIT)
    assert set(metrics) >= {"pass@1", "pass@2", "pass@4", "maj@1", "maj@2", "maj@4"}
    assert "## pass@k and maj@k" in md and "| pass@k |" in md
    assert 'id="plot-curves"' in html and 'id="plot-accuracy"' in html


def test_training_run_latest_checkpoint_and_every_step(runs, tmp_path):
    run = load_run(runs["train"])
    assert run.kind == "training" and run.step == 30
    assert [c.step for c in run.checkpoints] == [10, 20, 30]
    assert len(run.train_log) == 30  # the torn last line is skipped, and the file is left as it was
    assert (runs["train"] / "metrics.jsonl").read_text().endswith('"rollout/acc')
    code, rep, md, html = _report(runs, tmp_path, "train", "old")
    assert code == 0
    row = _row(rep, "train @ step 30")
    assert row["cells"]["math500"]["mean"] == pytest.approx(5 / 6)
    steps = rep["training"]["train"]
    assert [s["step"] for s in steps] == [10, 20, 30]
    assert [s["scores"]["math500"]["mean"] for s in steps] == pytest.approx([1 / 6, 3 / 6, 5 / 6])
    assert "### train" in md and "| 20 | " in md
    assert 'id="plot-steps-0"' in html


def test_compare_greedy_runs_uses_exact_mcnemar(runs, tmp_path):
    code, rep, md, html = _report(runs, tmp_path, "old", "new", extra=["--compare"])
    assert code == 0
    by_name = {b["benchmark"]: b for b in rep["comparison"]["benchmarks"]}
    m = by_name["math500"]
    # old right on 0, 1, 2; new right on 0, 2, 3, 4, 5: b = 1 (problem 1), c = 3 (problems 3, 4, 5)
    assert (m["a_better"], m["b_better"], m["shared"]) == (1, 3, LIMIT)
    assert m["test"] == MCNEMAR
    assert m["p_value"] == pytest.approx(2 * (1 + 4) / 16)  # 2 * P(X <= 1), X ~ Binomial(4, 1/2), capped below 1
    assert m["delta"] == pytest.approx(2 / 6)
    ids = [p.id for p in problems("math500")]
    changed = {c["problem_id"]: c for c in m["changes"]}
    assert set(changed) == {ids[1], ids[3], ids[4], ids[5]}
    assert changed[ids[1]]["new_answer"] == WRONG and changed[ids[1]]["old_score"] == 1.0
    assert changed[ids[3]]["old_answer"] == WRONG and changed[ids[3]]["new_score"] == 1.0
    for b in ("aime24", "amc"):  # unchanged benchmarks: no discordant pair
        assert (by_name[b]["delta"], by_name[b]["p_value"], by_name[b]["changes"]) == (0.0, 1.0, [])
    assert "## Comparison: old → new" in md and "exact McNemar" in md and ids[3] in md
    assert "id='comparison'" in html and 'id="plot-compare"' in html


def test_compare_sampled_uses_permutation_test(runs, tmp_path):
    code, rep, md, _ = _report(runs, tmp_path, "old", "sampled", extra=["--compare"])
    assert code == 0
    (m,) = rep["comparison"]["benchmarks"]  # only math500 is in both
    assert m["test"] == PERMUTATION + ", exact"
    # per problem: old 1,1,1,0,0,0; sampled 0,.25,.5,.75,1,1 -> differences -1,-.75,-.5,.75,1,1 (sum 0.5).
    # Sign patterns of magnitudes (1, .75, .5, .75, 1, 1) with |sum| >= 0.5: counted by hand over the 64 patterns
    mags = [1, 0.75, 0.5, 0.75, 1, 1]
    hits = sum(abs(sum(m if bits >> i & 1 else -m for i, m in enumerate(mags))) >= 0.5 - 1e-9 for bits in range(64))
    assert m["p_value"] == pytest.approx(hits / 64)
    assert (m["a_better"], m["b_better"]) == (3, 3)
    assert len(m["changes"]) == 6
    assert any("settings differ" in n for n in m["notes"])
    assert rep["comparison"]["only_in_a"] == ["aime24", "amc", "minerva_math", "olympiadbench"]
    assert "Not in sampled: aime24, amc, minerva_math, olympiadbench" in md


def test_compare_without_samples_falls_back_to_unpaired(runs, tmp_path):

    copy = tmp_path / "nosamples"
    shutil.copytree(runs["new"], copy)
    shutil.rmtree(copy / "samples")
    report = build_report([runs["old"], copy], ["none"], compare=True)
    m = next(b for b in report.comparison.benchmarks if b.benchmark == "math500")
    assert m.p_value is None and "no per-sample verdicts in nosamples" in m.test
    assert m.delta == pytest.approx(2 / 6)


def test_same_folder_names_get_distinct_labels(runs, tmp_path):

    for parent in ("a", "b"):
        shutil.copytree(runs["old"], tmp_path / parent / "run")
    report = build_report([tmp_path / "a" / "run", tmp_path / "b" / "run"], ["none"])
    assert [r.label for r in report.runs] == ["a/run", "b/run"]


def _error(capsys, *args: str) -> str:
    assert main(["report", *args]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


def test_clear_errors(runs, tmp_path, capsys):
    out = str(tmp_path / "o")
    assert "no such file or folder" in _error(capsys, str(tmp_path / "missing"), "--output", out)
    (tmp_path / "empty").mkdir()
    assert "not a run" in _error(capsys, str(tmp_path / "empty"), "--output", out)
    err = _error(capsys, str(runs["old"]), "--references", "eurus3", "--output", out)
    assert "unknown reference set 'eurus3'" in err and "did you mean 'eurus2'" in err
    err = _error(capsys, str(runs["old"]), "--references", "eurus2:Eurus-2-7B-PRMIE", "--output", out)
    assert "did you mean 'Eurus-2-7B-PRIME'" in err
    err = _error(capsys, str(runs["new"]), "--references", "eurus2", str(runs["old"]), "--output", out)
    assert "is a path: put --references after the runs" in err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "results.json").write_text('{"benchmarks": {"math500": ')
    assert "invalid JSON" in _error(capsys, str(broken), "--output", out)
    (broken / "results.json").write_text('{"benchmarks": {"math500": {"metrics": {}}}}')
    assert "no readable metrics" in _error(capsys, str(broken), "--output", out)
    (broken / "results.json").write_text("[1, 2]")
    assert "expected a JSON object" in _error(capsys, str(broken), "--output", out)
    assert "exactly two runs" in _error(capsys, str(runs["old"]), "--compare", "--output", out)
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "config.json").write_text("{}")
    assert "unfinished run" in _error(capsys, str(unfinished), "--output", out)
    training = tmp_path / "training"
    (training / "checkpoints").mkdir(parents=True)
    assert "no evaluated checkpoint" in _error(capsys, str(training), "--output", out)
    (tmp_path / "afile").write_text("x")
    assert "not a folder" in _error(capsys, str(runs["old"]), "--output", str(tmp_path / "afile"))


def test_html_is_one_self_contained_file(runs, tmp_path):
    code, _, _, html = _report(runs, tmp_path, "old", "sampled", "train", extra=["--references", "eurus2"])
    assert code == 0
    # nothing to fetch: every link and source is in-page (#id) or inline data
    targets = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html)
    assert targets and all(t.startswith(("#", "data:")) for t in targets), [t for t in targets if t[:1] != "#"]
    assert "<link" not in html and "@import" not in html and "url(http" not in html
    assert "default-src 'none'" in html  # and the policy forbids it anyway
    # four inline figures whose ids never collide (a collision makes one figure clip to another's rectangle)
    assert html.count("<svg") == 3
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})[:5]
    # every run and benchmark on the page, and every footnote marker used in a cell is explained
    for label in ("old", "sampled", "train @ step 30", *MATH5):
        assert f">{label}<" in html
    used = set(re.findall(r'<a href="#note-([a-z0-9]+)">', html))
    defined = set(re.findall(r'<li id="note-([a-z0-9]+)">', html))
    assert used and used == defined


def test_console_summary_shows_the_scores_a_run_has(runs, tmp_path, capsys):
    """A run without the paper's suite (here math500 alone) prints its own benchmarks, not an empty average."""
    assert main(["report", str(runs["sampled"]), str(runs["old"]), "--output", str(tmp_path / "r")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("sampled") and "math500 " in line and "—" not in line for line in lines)
    assert any(line.startswith("old") and "avg5 50.0" in line for line in lines)
