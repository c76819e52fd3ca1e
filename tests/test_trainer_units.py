"""The trainer's parts that need no model: config and overrides, prompt order and resumption, EOS cuts, batch
masks, the group filter, checkpoint discovery, the evaluation command, the Eurus-2 data converter."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")  # the batch tests build tensors; a CPU-only install without torch skips

from prime_train.batch import build_batch  # noqa: E402
from prime_train.checkpoint import STATE_FILE, complete_checkpoints  # noqa: E402
from prime_train.config import (  # noqa: E402
    ConfigError,
    DataConfig,
    RolloutConfig,
    load_config,
    parse_overrides,
    resolve_recipe,
)
from prime_train.data import PromptItem, PromptSource, load_prompts  # noqa: E402
from prime_train.evaluation import eval_command, headline_scores  # noqa: E402
from prime_train.verify_rollouts import Group, distance_to_band, keeps  # noqa: E402

# -- config ---------------------------------------------------------------------------------------------------------


def test_overrides_are_typed_and_nested():
    tree = parse_overrides(["--rollout.samples_per_prompt", "8", "--prm.enabled=false", "--eval.benchmarks", "a,b"])
    assert tree == {"rollout": {"samples_per_prompt": 8}, "prm": {"enabled": False}, "eval": {"benchmarks": "a,b"}}
    cfg = load_config(None, {**tree, "model": {"policy": "m"}})
    assert cfg.rollout.samples_per_prompt == 8 and cfg.prm.enabled is False
    assert cfg.eval.benchmarks == ["a", "b"]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"rollout": {"samples_per_promt": 8}}, "did you mean 'samples_per_prompt'"),
        ({"prm": {"update": "sometimes"}}, "prm.update must be one of after, before, none"),
        ({"policy": {"lr": "fast"}}, "policy.lr must be a number"),
        ({"rollout": {"max_new_tokens": 1.5}}, "must be an integer"),
        ({"seed": None}, "seed may not be null"),
    ],
)
def test_bad_settings_are_named(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


def test_override_needs_a_value():
    with pytest.raises(ConfigError, match="needs a value"):
        parse_overrides(["--max_steps"])


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({}, "model.policy is required"),
        ({"rollout": {"samples_per_prompt": 1}}, "at least 2"),
        ({"policy": {"mini_batch_size": 12, "micro_batch_size": 8}}, "multiple of policy.micro_batch_size"),
        ({"rollout": {"prompts_per_step": 3, "samples_per_prompt": 2}}, "must divide the step's 6 responses"),
        ({"rollout": {"filter_low": 0.9, "filter_high": 0.2}}, "filter_low <= filter_high"),
        ({"deepspeed": {"zero_stage": 3}}, "ZeRO-3"),
        ({"prm": {"loss": "dpo", "micro_batch_size": 2}}, "multiple of K"),
    ],
)
def test_validation(overrides, message):
    base = {"model": {"policy": "m"}} if "model.policy" not in message else {}
    with pytest.raises(ConfigError, match=message):
        load_config(None, {**base, **overrides}).validate(world_size=1)


def test_validation_counts_processes():
    cfg = load_config(None, {"model": {"policy": "m"}, "rollout": {"prompts_per_step": 6}})
    with pytest.raises(ConfigError, match="multiple of the 4 processes"):
        cfg.validate(world_size=4)


def test_packaged_recipes_load_and_validate():
    for name in ("eurus2-7b-prime", "eurus2-7b-rloo"):
        cfg = load_config(name)
        cfg.validate(world_size=8)
        assert cfg.rollout.prompts_per_step == 256 and cfg.rollout.samples_per_prompt == 4
    prime, rloo = load_config("eurus2-7b-prime"), load_config("eurus2-7b-rloo")
    assert (prime.policy.lr, prime.prm.lr, prime.prm.beta, prime.algorithm.clip_eps) == (5e-7, 1e-6, 0.05, 0.2)
    assert prime.prm.enabled and not rloo.prm.enabled
    assert prime.rollout.max_new_tokens == 3072 and (prime.rollout.filter_low, prime.rollout.filter_high) == (0.2, 0.8)
    # 1024 responses / 256 per mini-batch: 4 optimizer steps per RL step for each model, as the reference.
    assert 256 * 4 // prime.policy.mini_batch_size == 4 == 256 * 4 // prime.prm.mini_batch_size


def test_unknown_recipe_suggests():
    with pytest.raises(ConfigError, match="did you mean 'eurus2-7b-prime'"):
        resolve_recipe("eurus2-7b-prme")


# -- data -----------------------------------------------------------------------------------------------------------


def _items(n):
    return [PromptItem(str(i), f"q{i}", str(i)) for i in range(n)]


def test_prompt_source_epochs_buffer_and_state():
    source = PromptSource(_items(5), seed=1, epochs=2)
    first = [p.id for p in source.take(3)]
    source.give_back(source.take(1))  # handed back: drawn first next time
    state = json.loads(json.dumps(source.state()))
    rest = [p.id for p in source.take(100)]
    assert sorted(first + rest[:2]) == [str(i) for i in range(5)]  # epoch 1 is a permutation of the data
    assert len(rest) == 7 and sorted(rest[2:]) == [str(i) for i in range(5)]  # then epoch 2, then nothing
    assert source.take(1) == []
    again = PromptSource(_items(5), seed=1, epochs=2)
    again.load_state(state)
    assert [p.id for p in again.take(100)] == rest  # a resumed source draws exactly what the original drew
    with pytest.raises(ConfigError, match="seed 1"):
        PromptSource(_items(5), seed=3, epochs=2).load_state(state)


def test_prompt_order_depends_on_seed():
    orders = {tuple(p.id for p in PromptSource(_items(20), seed=s, epochs=1).take(20)) for s in range(5)}
    assert len(orders) == 5


def test_jsonl_prompts_with_messages_and_errors(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(
        json.dumps({"id": "a", "prompt": [{"role": "user", "content": "2+2?"}], "gold": "4"}) + "\n\n"
        + json.dumps({"id": "b", "prompt": [{"role": "user", "content": "3+3?"}], "gold": "6"}) + "\n"
    )  # fmt: skip
    items, kind = load_prompts(DataConfig(benchmark=None, path=str(path), messages_field="prompt"))
    assert kind == "math" and [i.id for i in items] == ["a", "b"] and items[0].messages[0]["content"] == "2+2?"
    path.write_text(json.dumps({"id": "a", "prompt": "not messages", "gold": "4"}) + "\n")
    with pytest.raises(ConfigError, match=r"d.jsonl: row 1: prompt must be a list"):
        load_prompts(DataConfig(benchmark=None, path=str(path), messages_field="prompt"))
    path.write_text(json.dumps({"question": "q"}) + "\n")
    with pytest.raises(ConfigError, match=r"d.jsonl: row 1: missing field\(s\) gold"):
        load_prompts(DataConfig(benchmark=None, path=str(path)))


# -- rollouts, batches, filter --------------------------------------------------------------------------------------


def test_build_batch_masks_exactly_the_response_tokens():
    batch = build_batch([[1, 2, 3], [4]], [[7, 8], [9, 10, 11]], [1.0, 0.0], pad_id=0)
    assert batch.input_ids.tolist() == [[1, 2, 3, 7, 8], [4, 9, 10, 11, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]]
    assert batch.response_mask.tolist() == [[0, 0, 0, 1, 1], [0, 1, 1, 1, 0]]
    sub = batch.rows(torch.tensor([1]))
    assert sub.input_ids.tolist() == [[4, 9, 10, 11]] and sub.scores.tolist() == [0.0]  # trimmed to its length


def _group(scores, truncated=None):
    n = len(scores)
    return Group("p", [1], [[2]] * n, truncated or [False] * n, ["x"] * n, list(scores))


def test_filter_band_is_inclusive_and_truncation_optional():
    cfg = RolloutConfig()
    assert [keeps(_group(s), cfg) for s in ([0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1])] == [
        False, True, True, False,
    ]  # fmt: skip
    assert keeps(_group([1, 0, 0, 0, 0]), cfg)  # exactly 0.2: kept, as the reference code (inclusive)
    assert keeps(_group([0.2, 0.2, 0.2, 0.2]), cfg)  # a fractional code score on the bound
    assert keeps(_group([1, 0], [True, False]), cfg)
    assert not keeps(_group([1, 0], [True, False]), RolloutConfig(filter_truncated=True))
    assert keeps(_group([1, 1]), RolloutConfig(filter_low=None, filter_high=None))
    assert distance_to_band(_group([1, 1, 1, 1]), cfg) == pytest.approx(0.2)
    assert distance_to_band(_group([0, 0, 0, 0]), cfg) == pytest.approx(0.2)
    assert distance_to_band(_group([1, 0]), cfg) == 0


# -- checkpoints and evaluation ---------------------------------------------------------------------------------------


def test_only_complete_checkpoints_count(tmp_path):
    for name, complete in (("step-2", True), ("step-10", True), ("step-12.tmp", True), ("step-14", False)):
        folder = tmp_path / "checkpoints" / name
        folder.mkdir(parents=True)
        if complete:
            (folder / STATE_FILE).write_text("{}")
    assert [s for s, _ in complete_checkpoints(tmp_path)] == [2, 10]  # numeric order; tmp and unfinished ignored


def test_eval_command_and_headline_scores(tmp_path):
    cfg = load_config(None, {"eval": {"benchmarks": ["arith", "math500"], "limit": 50, "max_tokens": 64}}).eval
    cmd = eval_command(cfg, "ckpt", tmp_path / "out", prompt_mode="chat", seed=3)
    flags = dict(zip(cmd[4::2], cmd[5::2]))
    assert cmd[2:4] == ["prime_eval.cli", "run"] and flags["--model"] == "ckpt"
    assert flags["--benchmarks"] == "arith,math500" and flags["--prompt-mode"] == "chat"
    assert "--limit" in cmd and cmd[cmd.index("--limit") + 1] == "50" and "--max-tokens" in cmd
    results = {"benchmarks": {"arith": {"metrics": {"avg": {"mean": 0.5, "stderr": 0.1}}}}}
    assert headline_scores(results) == {"arith/avg": 0.5}


def test_prepare_eurus2_data_keeps_math_rows(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    from scripts.prepare_eurus2_data import main

    rows = [
        {"data_source": "numina", "ability": "math", "prompt": [{"role": "system", "content": "s"},
         {"role": "user", "content": "1+1?"}], "reward_model": {"ground_truth": "2", "style": "rule"}},
        {"data_source": "code", "ability": "code", "prompt": [{"role": "user", "content": "x"}],
         "reward_model": {"ground_truth": "[]", "style": "rule"}},
    ]  # fmt: skip
    pd.DataFrame(rows).to_parquet(tmp_path / "train.parquet")
    assert main([str(tmp_path / "train.parquet"), "--output", str(tmp_path / "out.jsonl")]) == 0
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(out) == 1 and out[0]["gold"] == "2" and out[0]["prompt"][1] == {"role": "user", "content": "1+1?"}
    items, _ = load_prompts(DataConfig(benchmark=None, path=str(tmp_path / "out.jsonl"), messages_field="prompt"))
    assert items[0].messages == out[0]["prompt"]


def test_evaluation_child_takes_one_thread_on_cpu_unless_told():
    from prime_train.evaluation import eval_environment

    assert eval_environment({"PATH": "/bin"}, cpu_only=True)["OMP_NUM_THREADS"] == "1"
    assert eval_environment({"OMP_NUM_THREADS": "4"}, cpu_only=True)["OMP_NUM_THREADS"] == "4"
    assert "OMP_NUM_THREADS" not in eval_environment({}, cpu_only=False)


def test_waiting_for_evaluations_reports_progress(tmp_path, capsys):
    import subprocess
    import sys
    import time

    from prime_train.config import EvalConfig
    from prime_train.evaluation import CheckpointEvaluator, _Job

    evaluator = CheckpointEvaluator(EvalConfig(benchmarks=["arith"]), tmp_path, "chat", 0, lambda *a: None)
    slow = _Job(3, "model")
    slow.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    slow.started = time.time()
    evaluator.running = slow
    evaluator.finish(report_every_s=0.1)
    err = capsys.readouterr().err
    assert "evaluating step 3" in err and "0 queued" in err
    assert evaluator.failed == [3]  # it wrote no results.json: reported as failed, never waited on again


def test_demo_summary_reads_first_and_last_scores_and_the_prm_tail(tmp_path):
    from prime_train.demo import summarize

    run = tmp_path / "prime"
    run.mkdir()
    (run / "eval.jsonl").write_text(  # written as evaluations finish: not in step order
        "".join(json.dumps(r) + "\n" for r in [{"step": 10, "arith/avg": 0.5}, {"step": 0, "arith/avg": 0.25}])
    )
    rows = [{"step": s, "time/step": 2.0, "time/step_cpu": 1.0, "prm/pairwise_acc": 0.5 + 0.05 * s,
             "rollout/accuracy": 0.1 * s} for s in range(8)]  # fmt: skip
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = summarize({"PRIME": run})["PRIME"]
    assert (summary["first_step"], summary["first"], summary["last_step"], summary["last"]) == (0, 0.25, 10, 0.5)
    assert summary["prm_pairwise_acc_last_quarter"] == pytest.approx((0.8 + 0.85) / 2)  # steps 6 and 7 of 8
    # The training reward curve as two numbers: steps 0-1 against steps 6-7.
    assert (summary["reward_first_quarter"], summary["reward_last_quarter"]) == pytest.approx((0.05, 0.65))
    assert (summary["wall_s"], summary["cpu_s"]) == (16.0, 8.0)


def test_extraction_profile_reaches_the_reward_verifier():
    from prime_train.verify_rollouts import make_verifier

    response, gold = "Adding them up gives a total of 12 apples.", "12"  # no box, no answer phrase: a final statement
    default = make_verifier("math", load_config(None, {"model": {"policy": "m"}}).data.extraction_profile)
    strict_cfg = load_config(None, {"model": {"policy": "m"}, "data": {"extraction_profile": "strict"}})
    strict = make_verifier("math", strict_cfg.data.extraction_profile)
    assert default.verify(response, gold).correct and not strict.verify(response, gold).correct
    assert strict.describe()["config"]["extraction"]["profile"] == "strict"
    with pytest.raises(ConfigError, match="extraction_profile must be one of default, strict"):
        load_config(None, {"model": {"policy": "m"}, "data": {"extraction_profile": "lenient"}})
