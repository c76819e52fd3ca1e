"""Benchmark registry, data loading, prompt templates and run settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.loading import DataError, gold_of, load_benchmark
from benchmarks.registry import UnknownBenchmark, get_benchmark, parse_benchmark_list, registry
from prime_eval.prompts import PRIME_SYSTEM, PromptTemplate
from prime_eval.run_config import ConfigError, build_config

EXPECTED_ROWS = {
    "aime24": 30, "aime24_qwen": 30, "amc": 83, "amc23": 40, "math500": 500, "minerva_math": 272,
    "olympiadbench": 675, "humaneval": 164, "mbpp": 399, "leetcode": 180,
}  # fmt: skip


def test_every_definition_parses_and_names_its_file():
    assert set(EXPECTED_ROWS) <= set(registry())
    for name, d in registry().items():
        assert Path(d.path).stem == name
        assert d.verifier in ("math", "code") and d.max_tokens > 0


def test_did_you_mean():
    with pytest.raises(UnknownBenchmark, match="did you mean math500"):
        get_benchmark("math50")
    with pytest.raises(UnknownBenchmark, match="olympiadbnch.*did you mean olympiadbench"):
        parse_benchmark_list("aime24,olympiadbnch")
    assert [d.name for d in parse_benchmark_list("amc, aime24,amc")] == ["amc", "aime24"]


@pytest.mark.parametrize("name", sorted(EXPECTED_ROWS))
def test_local_data_loads_with_unique_ids_and_a_content_hash(name, shared_data):
    loaded = load_benchmark(get_benchmark(name), data_dir=shared_data)
    assert len(loaded.problems) == EXPECTED_ROWS[name]
    assert len({p.id for p in loaded.problems}) == len(loaded.problems)
    assert len(loaded.source["sha256"]) == 64 and loaded.source["kind"] == "local"
    assert all(p.question and p.reference is not None for p in loaded.problems)


def test_golds_are_taken_as_prime_took_them(shared_data):
    aime = load_benchmark(get_benchmark("aime24"), data_dir=shared_data)
    assert all("2024_AIME" in p.id or p.id.isdigit() for p in aime.problems)
    assert not any(str(p.reference).startswith("0") for p in aime.problems)
    minerva = load_benchmark(get_benchmark("minerva_math"), data_dir=shared_data, limit=3)
    assert len(minerva.problems) == 3 and "\\boxed" not in minerva.problems[0].reference
    assert gold_of({"answer": "073"}, "lstrip_zeros(answer)") == "73"
    assert gold_of({"final_answer": ["$5$"]}, "first(final_answer)") == "$5$"
    assert gold_of({"answer": 142.0}, "answer") == "142.0"


def test_missing_local_data_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="local data not found"):
        load_benchmark(get_benchmark("minerva_math"), data_dir=tmp_path)


def test_prompt_modes():
    prime = PromptTemplate("prime", "math").render("What is 1+1?")
    assert prime[0]["role"] == "system" and "\\n\\n[ASSESS]" in prime[0]["content"] and "\n" not in prime[0]["content"]
    assert prime[1]["content"].endswith("Present the answer in LaTex format: \\boxed{Your answer}")
    newlines = PromptTemplate("prime_newlines", "math").render("q")
    assert newlines[0]["content"] == PRIME_SYSTEM
    assert PromptTemplate("chat", "code").render("q") == [
        {
            "role": "user",
            "content": "q\n\nWrite Python code to solve the problem. Present the code in \n```python\nYour code\n```\nat the end.",
        }
    ]
    assert isinstance(PromptTemplate("plain", "math").render("q"), str)
    assert PromptTemplate("prime", "math").fingerprint() != PromptTemplate("prime_newlines", "math").fingerprint()
    with pytest.raises(ValueError):
        PromptTemplate("fancy", "math")


def test_settings_precedence_and_errors(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("model: m\noutput: out\nn: 4\ntemperature: 0.6\nseed: 3\n")
    c = build_config({"n": 8, "top_p": None}, cfg)
    assert (c.n, c.temperature, c.seed, c.top_p) == (8, 0.6, 3, 1.0)
    paper = build_config({"model": "m", "output": "o", "preset": "prime-paper"})
    assert (paper.n, paper.temperature, paper.prompt_mode, paper.max_tokens) == (1, 0.0, "prime", None)
    thinking = build_config({"model": "m", "output": "o", "preset": "reasoning", "n": 8})
    assert (thinking.max_tokens, thinking.n, thinking.prompt_mode) == (32768, 8, "chat")
    with pytest.raises(ConfigError, match="unknown setting"):
        build_config({"model": "m", "output": "o"}, _yaml(tmp_path, "nn: 3\n"))
    with pytest.raises(ConfigError, match="greedy"):
        build_config({"model": "m", "output": "o", "n": 4, "temperature": 0.0})
    with pytest.raises(ConfigError, match="--model is required"):
        build_config({"output": "o"})
    with pytest.raises(ConfigError, match="unknown preset"):
        build_config({"model": "m", "output": "o", "preset": "paper"})


def _yaml(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "x.yaml"
    p.write_text(text)
    return p
