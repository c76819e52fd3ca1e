"""The generated ``arith`` benchmark: deterministic, train/test disjoint, worked solutions that verify, difficulty
knobs that act, and the harness running it like any other benchmark."""

from __future__ import annotations

import json
import re

import pytest

from benchmarks import arith
from benchmarks.arith import ArithError, Difficulty, generate, problems, split_of, train_problems
from benchmarks.loading import DataError, load_benchmark
from benchmarks.registry import get_benchmark, registry
from prime_eval.cli import main
from prime_eval.verify import verify_batch
from prime_eval.verify.math import MathVerifier

STEP = re.compile(r"^(-?\d+) ([-+*]) (\d+) = (-?\d+)$")


def _numbers(expression: str) -> list[int]:
    return [int(t) for t in expression.split()[::2]]


def test_generation_is_deterministic_and_prefix_stable():
    a = generate(split="test", size=60, seed=0)
    assert a == generate(split="test", size=60, seed=0)
    assert generate(split="test", size=25, seed=0) == a[:25]  # a larger size only appends
    assert generate(split="test", size=60, seed=1) != a
    assert len({r["id"] for r in a}) == 60 and len({r["question"] for r in a}) == 60
    assert set(a[0]) == {"id", "question", "gold", "solution"}


def test_splits_never_overlap_whatever_the_seed():
    train = {p.expression for seed in (0, 1) for p in problems("train", 3000, seed)}
    test = {p.expression for p in problems("test", 400, 0)}
    assert not train & test
    assert {split_of(e) for e in train} == {"train"} and {split_of(e) for e in test} == {"test"}
    with pytest.raises(ArithError, match="split must be one of"):
        problems("validation", 3)


def test_every_worked_solution_is_right_and_verifies_against_its_gold():
    rows = generate(split="test", size=200, seed=0) + train_problems(200, seed=3)
    for r in rows:
        expression = r["question"].removeprefix("What is ").removesuffix("?")
        assert int(r["gold"]) == eval(expression)  # noqa: S307 - Python's precedence for + - * is the task's
        *steps, boxed = r["solution"].split("\n\n")
        assert boxed == f"\\boxed{{{r['gold']}}}" and steps
        for step in steps:  # each step is true arithmetic
            a, op, b, c = STEP.match(step).groups()
            assert int(c) == {"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b)}[op]
    golds = [r["gold"] for r in rows]
    verdicts = verify_batch(MathVerifier(), [r["solution"] for r in rows], golds, workers=2, progress=False)
    assert all(v.correct for v in verdicts)
    wrong = verify_batch(MathVerifier(), [f"\\boxed{{{int(g) + 1}}}" for g in golds[:20]], golds[:20], workers=2)
    assert not any(v.correct for v in wrong)


def test_partial_products_go_one_place_at_a_time():
    p = arith.make_problem([407, 6], ["*"])
    assert p.solution == "400 * 6 = 2400\n\n7 * 6 = 42\n\n2400 + 42 = 2442\n\n\\boxed{2442}"
    q = arith.make_problem([5, 12, 3, 9], ["+", "*", "-"])  # products first, then left to right
    assert q.solution.split("\n\n") == ["10 * 3 = 30", "2 * 3 = 6", "30 + 6 = 36", "5 + 36 = 41", "41 - 9 = 32",
                                        "\\boxed{32}"]  # fmt: skip


def test_difficulty_knobs_change_the_problems():
    def sample(**knobs):
        return problems("train", 300, 0, Difficulty(**knobs))

    plus = sample(operators="+")
    assert all(set(p.expression.split()[1::2]) == {"+"} for p in plus)
    wide = sample(min_digits=3, max_digits=3, operators="+-")
    assert all(100 <= n <= 999 for p in wide for n in _numbers(p.expression))
    long = sample(min_operands=4, max_operands=4)
    assert all(len(_numbers(p.expression)) == 4 for p in long)
    products = sample(min_digits=2, max_digits=3, operators="*", mul_digits=1)
    assert all(_numbers(p.expression)[1] <= 9 for p in products)
    assert all(p.answer >= 0 for p in sample(operators="-", max_digits=2))  # no negative partial results by default
    assert any(p.answer < 0 for p in sample(operators="-", max_digits=2, allow_negative=True))
    assert sample() != sample(max_digits=3)
    with pytest.raises(ArithError, match="operators"):
        Difficulty(operators="/")
    with pytest.raises(ArithError, match="only .* distinct"):  # one-digit sums: too few for 500 test problems
        problems("test", 500, 0, Difficulty(max_digits=1, max_operands=2, operators="+"))


def test_registry_lists_arith_and_the_fingerprint_covers_the_generator(capsys):
    d = get_benchmark("arith")
    assert "arith" in registry() and d.prompt_mode == "chat" and d.data.generator == "benchmarks.arith:generate"
    assert main(["ls"]) == 0
    assert "arith" in capsys.readouterr().out
    loaded = load_benchmark(d)
    src = loaded.source
    assert (src["kind"], src["version"], src["split"], src["size"], src["rows"]) == ("generator", "1", "test", 200, 200)  # fmt: skip
    assert src["params"] == d.data.params and len(src["sha256"]) == 64
    assert loaded.problems[0].meta["solution"].endswith(f"\\boxed{{{loaded.problems[0].reference}}}")
    train = load_benchmark(d, split="train", size=50, seed=2)
    assert [p.question for p in train.problems] == [r["question"] for r in train_problems(50, seed=2)]
    assert train.source["sha256"] != src["sha256"] and train.source["seed"] == 2
    with pytest.raises(DataError, match="only generated benchmarks"):
        load_benchmark(get_benchmark("math500"), split="train")


def test_prime_eval_run_file_backend_on_arith(tmp_path):
    """Problem k answered by its worked solution when k % 3 != 0, else off by one: the score is known."""
    problems_ = load_benchmark(get_benchmark("arith")).problems
    path = tmp_path / "responses.jsonl"
    with path.open("w") as f:
        for k, p in enumerate(problems_):
            response = p.meta["solution"] if k % 3 else f"\\boxed{{{int(p.reference) + 1}}}"
            f.write(json.dumps({"benchmark": "arith", "id": p.id, "response": response}) + "\n")
    out = tmp_path / "run"
    args = ["run", "--backend", "file", "--model", str(path), "--benchmarks", "arith", "--output", str(out),
            "--quiet", "--verify-workers", "2"]  # fmt: skip
    assert main(args) == 0
    result = json.loads((out / "results.json").read_text())["benchmarks"]["arith"]
    expected = sum(1 for k in range(len(problems_)) if k % 3) / len(problems_)
    assert result["metrics"]["avg"]["mean"] == pytest.approx(expected)
    assert result["data"]["generator"] == "benchmarks.arith:generate" and result["data"]["version"] == arith.VERSION
