"""prime-eval run end to end on CPU: a tiny local model through the hf backend on every benchmark (the shared
benchmark files), the openai backend against a local server serving that model, and the file backend with known
scores (both on the generated ``arith`` benchmark, no files needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from benchmarks.loading import load_benchmark  # noqa: E402
from benchmarks.registry import get_benchmark, registry  # noqa: E402
from prime_eval.cli import main  # noqa: E402
from tests.openai_test_server import serve  # noqa: E402
from tests.test_livecodebench import write_lcb_files  # noqa: E402
from tests.tiny_model import one_torch_thread  # noqa: E402


@pytest.fixture(scope="module")
def data_dir(shared_data, tmp_path_factory) -> Path:
    """The shared benchmark files plus LiveCodeBench problems written in its format (its data lives on the Hub)."""
    root = tmp_path_factory.mktemp("data")
    for sub in shared_data.iterdir():
        if sub.is_dir():
            (root / sub.name).symlink_to(sub)
    return write_lcb_files(root)


def _results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def _samples(out: Path, name: str) -> list[dict]:
    return [json.loads(x) for x in (out / "samples" / f"{name}.jsonl").read_text().splitlines()]


def test_hf_backend_on_every_benchmark(tiny_model, data_dir, tmp_path, capsys):
    names = ",".join(registry())
    out = tmp_path / "hf"
    args = ["run", "--backend", "hf", "--model", str(tiny_model), "--benchmarks", names, "--limit", "2",
            "--max-tokens", "12", "--output", str(out), "--data-dir", str(data_dir), "--quiet"]  # fmt: skip
    with one_torch_thread():
        assert main(args) == 0
    results = _results(out)
    assert set(results["benchmarks"]) == set(registry())
    for name, r in results["benchmarks"].items():
        assert (r["num_problems"], r["num_samples"]) == (2, 2), name
        assert sum(r["statuses"].values()) == 2
        assert 0.0 <= r["metrics"]["avg"]["mean"] <= 1.0
        rows = _samples(out, name)
        assert all(row["tokens"] <= 12 and row["prompt"] for row in rows)
    assert results["model"]["weights_fingerprint"]
    assert results["paper_average"]["complete"] is True
    assert "| math500 | 2 | 2 |" in capsys.readouterr().out


def test_openai_backend_matches_hf_greedy(tiny_model, tmp_path):
    hf_out, api_out = tmp_path / "hf", tmp_path / "api"
    common = ["--benchmarks", "arith", "--limit", "3", "--max-tokens", "10", "--quiet"]
    with one_torch_thread():
        assert main(["run", "--backend", "hf", "--model", str(tiny_model), "--output", str(hf_out), *common]) == 0
        with serve(tiny_model) as server:
            args = ["run", "--backend", "openai", "--model", "tiny", "--model-args", f"base_url={server.base_url}",
                    "--output", str(api_out), *common]  # fmt: skip
            assert main(args) == 0
    hf = [(r["id"], r["response"]) for r in _samples(hf_out, "arith")]
    api = [(r["id"], r["response"]) for r in _samples(api_out, "arith")]
    assert len(hf) == 3 and hf == api


def test_openai_backend_server_down_is_a_clear_error(tmp_path, capsys):
    args = ["run", "--backend", "openai", "--model", "m", "--model-args", "base_url=http://127.0.0.1:9/v1",
            "--benchmarks", "arith", "--limit", "1", "--output", str(tmp_path / "o")]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "127.0.0.1:9" in err and "Traceback" not in err


def test_file_backend_known_scores(tmp_path):
    """arith's 200 problems x 4 samples: problem k gets k % 5 right answers out of 4 (capped), so every score is
    known."""
    problems = load_benchmark(get_benchmark("arith")).problems
    rights = [min(k % 5, 4) for k in range(len(problems))]
    path = tmp_path / "responses.jsonl"
    with path.open("w") as f:
        for p, r in zip(problems, rights):
            answers = [f"so $\\boxed{{{p.reference}{'' if j < r else 1}}}$" for j in range(4)]  # "31": never the gold
            f.write(json.dumps({"benchmark": "arith", "id": p.id, "responses": answers}) + "\n")
    out = tmp_path / "file"
    args = ["run", "--backend", "file", "--model", str(path), "--benchmarks", "arith", "--n", "4",
            "--temperature", "0.6", "--output", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    m = _results(out)["benchmarks"]["arith"]["metrics"]
    assert m["avg"]["mean"] == pytest.approx(sum(rights) / (4 * len(problems)))
    assert m["pass@1"]["mean"] == pytest.approx(m["avg"]["mean"])
    assert m["pass@4"]["mean"] == pytest.approx(sum(r > 0 for r in rights) / len(problems))
    assert m["maj@4"]["mean"] == pytest.approx(
        sum(r > 2 for r in rights) / len(problems) + 0.5 * rights.count(2) / len(problems)
    )
