"""The paper's math suite is written once, as the ``paper_math`` group: the training recipes name the group, and the
checkpoint evaluation they start (``prime-eval run`` in a child process) expands it to the group's benchmarks."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.registry import groups, parse_benchmark_list
from prime_eval.cli import build_parser
from prime_eval.report.table import PAPER_ORDER
from prime_train.config import load_config
from prime_train.evaluation import eval_command

RECIPES = sorted((Path(__file__).resolve().parent.parent / "prime_train" / "recipes").glob("eurus2_*.yaml"))


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_the_paper_recipes_evaluate_the_group_through_prime_eval_run(recipe, tmp_path):
    cfg = load_config(str(recipe))
    assert cfg.eval.benchmarks == ["paper_math"]  # the suite is changed in the group's file only
    cmd = eval_command(cfg.eval, "ckpt", tmp_path / "eval", prompt_mode=cfg.data.prompt_mode, seed=cfg.seed)
    assert cmd[1:4] == ["-m", "prime_eval.cli", "run"]
    args = build_parser().parse_args(cmd[3:])
    assert tuple(d.name for d in parse_benchmark_list(args.benchmarks)) == groups()["paper_math"].benchmarks


def test_the_leaderboard_columns_start_with_the_group_in_its_order():
    paper = groups()["paper_math"].benchmarks
    assert PAPER_ORDER[: len(paper)] == paper and PAPER_ORDER[len(paper) :] == ("leetcode", "livecodebench")
