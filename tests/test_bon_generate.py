"""``prime-eval bon --generate``: pools drawn through the harness (hf backend, tiny model), written to the output
folder, benched with the implicit PRM; resumed on a rerun; bad combinations of options refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from prime_eval.cli import main  # noqa: E402
from tests.tiny_model import one_torch_thread  # noqa: E402


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_generate_then_bench(tiny_model, shared_data, tmp_path, capsys):
    out = tmp_path / "bon"
    args = ["bon", "--generate", "--benchmark", "math500", "--model", str(tiny_model), "--backend", "hf",
            "--samples", "4", "--limit", "2", "--max-tokens", "12", "--temperature", "1.0", "--data-dir", str(shared_data),
            "--implicit-prm", str(tiny_model), "--no-ref", "--output", str(out), "--quiet", "--workers", "1"]  # fmt: skip
    with one_torch_thread():
        assert main(args) == 0
    pool = _rows(out / "pool.jsonl")
    assert len(pool) == 8 and len({r["problem_id"] for r in pool}) == 2
    assert sorted(r["sample"] for r in pool) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert all(r["benchmark"] == "math500" and r["question"] and r["gold"] for r in pool)
    assert len({r["response"] for r in pool}) > 2  # sampled at T=1, not eight copies of one answer

    result = json.loads((out / "bon.json").read_text())
    assert result["ns"] == [1, 2, 4] and result["candidates"] == str(out / "pool.jsonl")
    gen = result["generation"]
    assert gen["config"]["n"] == 4 and gen["config"]["temperature"] == 1.0 and gen["config"]["limit"] == 2
    assert gen["model"]["backend"] == "hf" and gen["selection"].startswith("every sample drawn")
    assert result["reward_model"]["name"] == "implicit_prm" and result["reward_model"]["variant"] == "w/o ref"
    scored = _rows(out / "candidates.jsonl")
    assert [r["response"] for r in scored] == [r["response"] for r in pool]
    assert all(r["score"] < 0 for r in scored)  # w/o ref: beta times a sum of log-probabilities
    assert (out / "generation" / "generations" / "math500.jsonl").is_file()

    # A rerun resumes: nothing left to generate, the same pool; other sampling settings are refused.
    gen_file = out / "generation" / "generations" / "math500.jsonl"
    before = gen_file.read_text()
    with one_torch_thread():
        assert main(args) == 0
    assert gen_file.read_text() == before and _rows(out / "pool.jsonl") == pool
    capsys.readouterr()
    changed = [a if a != "1.0" else "0.7" for a in args]
    assert main(changed) == 1  # the output folder's state, as for prime-eval run
    err = capsys.readouterr().err
    assert "holds a run with other settings" in err and "temperature: 1.0 -> 0.7" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--generate", "--model", "m"], "--generate needs --benchmark NAME and --model MODEL"),
        (["--generate", "--candidates", "c.jsonl", "--benchmark", "math500", "--model", "m"], "give either"),
        (["--candidates", "c.jsonl", "--samples", "4"], "--samples: only with --generate"),
        ([], "give either --candidates FILE or --generate"),
        (["--generate", "--benchmark", "humaneval", "--model", "m"], "--generate supports math benchmarks"),
        (["--generate", "--benchmark", "math5000", "--model", "m"], "math5000"),
        (["--generate", "--benchmark", "math500", "--model", "m", "--temperature", "0"], "n copies of one greedy"),
    ],
)
def test_generate_option_errors(tmp_path, capsys, extra, message):
    assert main(["bon", "--oracle", "--output", str(tmp_path / "o"), "--quiet", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def _arith_responses(path: Path, ids: list[str], samples: int) -> Path:
    path.write_text("".join(json.dumps({"id": i, "responses": ["\\boxed{0}"] * samples}) + "\n" for i in ids))
    return path


def test_generation_errors_are_reported_once_with_their_own_exit_status(tmp_path, capsys):
    """A run folder holding other settings is the folder's state (exit 1, as for ``prime-eval run``), not wrong
    input; a responses file without the samples asked for, or none at all, is (exit 2). One line each."""
    from benchmarks.loading import load_benchmark
    from benchmarks.registry import get_benchmark

    ids = [p.id for p in load_benchmark(get_benchmark("arith"), limit=2).problems]
    responses = _arith_responses(tmp_path / "r.jsonl", ids, 2)

    def bon(out: str, *extra: str) -> int:
        return main(["bon", "--generate", "--benchmark", "arith", "--limit", "2", "--samples", "2", "--backend",
                     "file", "--model", str(responses), "--oracle", "--output", str(tmp_path / out), "--quiet",
                     "--workers", "1", *extra])  # fmt: skip

    assert bon("o") == 0
    capsys.readouterr()
    cases = [
        (("o", "--temperature", "0.7"), 1, "holds a run with other settings"),
        (("short", "--samples", "3"), 2, "has no response for benchmark 'arith'"),
        (("none", "--model", str(tmp_path / "none.jsonl")), 2, "none.jsonl"),
    ]
    for argv, status, message in cases:
        assert bon(*argv) == status, argv
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1 and err.startswith("prime-eval bon: error: "), err
