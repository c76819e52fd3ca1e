"""What a new user meets first (issue 14): clear one-line errors before any slow start-up, every float spelling,
a resume that names what changed."""

from __future__ import annotations

import pytest
import yaml

from prime_eval.backends.base import Completion
from prime_eval.cli import main as eval_main
from prime_train.cli import main as train_main
from prime_train.config import load_config, parse_overrides


@pytest.mark.parametrize("text", ["1e-4", "1E-4", "1.0e-4", ".0001", "0.000_1"])
def test_every_float_spelling_is_a_number(text):
    cfg = load_config("tiny-cpu", parse_overrides(["--policy.lr", text, "--model.policy", "m"]))
    assert cfg.policy.lr == pytest.approx(1e-4, rel=0, abs=0)


@pytest.mark.parametrize("text", ["fast", "nan", "1e400"])
def test_text_that_is_no_finite_number_is_still_refused(text, capsys):
    with pytest.raises(ValueError, match="policy.lr must be"):
        load_config("tiny-cpu", parse_overrides([f"--policy.lr={text}"]))


def test_resume_names_the_changed_key_and_both_values(tmp_path, tiny_model, capsys):
    out = tmp_path / "run"
    out.mkdir()
    saved = load_config("tiny-cpu", {"model": {"policy": str(tiny_model)}, "output_dir": str(out)})
    (out / "config.yaml").write_text(yaml.safe_dump(saved.to_dict()))
    argv = ["--config", "tiny-cpu", "--model", str(tiny_model), "--output-dir", str(out), "--resume",
            "--policy.lr", "2e-4", "--max-steps", "3"]  # fmt: skip
    assert train_main(argv) == 2
    err = capsys.readouterr().err
    # max_steps may change on a resume; lr may not, and the message says which key and what it was
    assert f"policy.lr: {saved.policy.lr} -> 0.0002" in err and "max_steps" not in err
    assert len(err.strip().splitlines()) == 1


def test_run_with_a_missing_model_folder_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    rc = eval_main(["run", "--model", str(tmp_path / "no" / "such"), "--benchmarks", "arith", "--limit", "1",
                    "--output", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "no such model folder" in err and str(tmp_path / "no" / "such") in err
    assert not out.exists()


class _ShortContext:
    """A model with a 100-token context whose responses all run out of room."""

    name = "short"

    def __init__(self):
        self.asked: list[int] = []

    def context_length(self) -> int:
        return 100

    def describe(self) -> dict:
        return {"name": "short"}

    def generate(self, requests, sampling, on_completion) -> None:
        self.asked.append(sampling.max_tokens)
        for request in requests:
            for j in request.samples:
                on_completion(request, Completion(j, "Let me think step by step and", "length", 100, 0.0))

    def close(self) -> None:
        pass


def test_limit_past_the_context_is_capped_said_and_truncation_shown(tmp_path, capsys):
    from prime_eval.cli import _print_results
    from prime_eval.run_config import build_config
    from prime_eval.runner import run_eval

    config = build_config({"model": "m", "benchmarks": "arith", "limit": 3, "max_tokens": 8192,
                           "output": str(tmp_path / "run")})  # fmt: skip
    backend = _ShortContext()
    results = run_eval(config, backend=backend, progress=False)
    assert backend.asked == [100]
    r = results["benchmarks"]["arith"]
    assert r["generation_limit"] == {"requested": 8192, "context": 100, "max_tokens": 100, "capped": True}
    assert r["sampling"]["max_tokens"] == 100 and r["truncated"] == 3
    assert "max_tokens 8192 is past the model's context of 100 tokens" in capsys.readouterr().err
    _print_results(results)
    table = capsys.readouterr().out
    assert "| truncated |" in table.splitlines()[0]
    assert "| 0.0% | ±0.0% |" in table and "| 3 (100.0%) |" in table
    assert "capped at the model's context of 100 tokens (the benchmark asks for 8192)" in table
    assert "3 of 3 responses hit the token limit" in table


def test_console_unit_is_percent_with_the_sign_and_json_keeps_fractions(tmp_path, capsys):
    from prime_eval.console import pct, pm
    from prime_eval.rewards.step_eval import markdown_table

    assert (pct(0.6), pct(3 / 7), pm(0.049), pct(None), pct(float("nan"))) == ("60.0%", "42.9%", "±4.9%", "n/a", "n/a")
    m = {"num_samples": 2, "num_erroneous": 1, "num_correct": 1, "error_acc": 0.5, "correct_acc": 1.0, "f1": 2 / 3}
    table = markdown_table({"subsets": {"s": m}, "overall": m, "threshold": {"value": 0.5, "source": "given"},
                            "mean_f1": 2 / 3})  # fmt: skip
    assert "| 50.0% | 100.0% | 66.7% |" in table and "mean F1 over subsets: 66.7%" in table
