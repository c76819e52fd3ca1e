"""One settings loader for every command that has settings (run, train, sft, prm): the same YAML spellings read,
the same mistakes refused in one line with a did-you-mean, and ``--section.key`` overrides for run and train.

Each command is driven through its own ``main`` with its real building path; the work itself (a run, a training)
is replaced by a stub that records the settings it was handed and stops."""

from __future__ import annotations

import pytest
import yaml

from prime_common.errors import UserError
from prime_eval.cli import main as eval_main
from prime_train.cli import main as train_main


class _Stop(UserError):
    """Raised by the stubs once they have the settings: main reports it and returns 2."""


@pytest.fixture
def handed(monkeypatch):
    """The settings object each command hands to its work function (run_eval, run_sft, run_prm_training)."""
    import prime_eval.runner
    import prime_train.offline_prm
    import prime_train.sft

    got = []

    def stub(config, *args, **kwargs):
        got.append(config)
        raise _Stop("stopped")

    monkeypatch.setattr(prime_eval.runner, "run_eval", stub)
    monkeypatch.setattr(prime_train.sft, "run_sft", stub)
    monkeypatch.setattr(prime_train.offline_prm, "run_prm_training", stub)
    return got


def _run(tmp_path, settings: dict, *extra: str) -> int:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(settings))
    return eval_main(["run", "--config", str(path), "--model", "m", "--backend", "file",
                      "--output", str(tmp_path / "out"), *extra])  # fmt: skip


def _train(tmp_path, settings: dict, *extra: str) -> int:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"model": {"policy": "m"}, **settings}))
    return train_main(["--config", str(path), "--print-config", *extra])


def _sft(tmp_path, settings: dict, *extra: str) -> int:
    path = tmp_path / "sft.yaml"
    path.write_text(yaml.safe_dump({"model": "m", "output": str(tmp_path / "o"), **settings}))
    return train_main(["sft", "--config", str(path), *extra])


def _prm(tmp_path, settings: dict, *extra: str) -> int:
    path = tmp_path / "prm.yaml"
    path.write_text(yaml.safe_dump({"data": "d.jsonl", "model": "m", "output": str(tmp_path / "o"), **settings}))
    return train_main(["prm", "--config", str(path), *extra])


# Quoted numbers and booleans, as people and YAML 1.1 write them (YAML reads 1e-4 without a dot as text).
SPELLINGS = {
    "run": (_run, {"temperature": "0.6", "top_p": "1e-4", "n": "10"}),
    "train": (
        _train,
        {"rollout": {"temperature": "0.6"}, "policy": {"lr": "1e-4"}, "prm": {"enabled": "true"}, "max_steps": "10"},
    ),  # fmt: skip
    "sft": (_sft, {"answer_only_fraction": "0.6", "lr": "1e-4", "progress": "true", "steps": "10"}),
    "prm": (_prm, {"beta": "0.6", "lr": "1e-4", "gradient_checkpointing": "true", "epochs": "10"}),
}


def _settings(command, handed, capsys) -> dict:
    if command == "train":
        return yaml.safe_load(capsys.readouterr().out)
    (config,) = handed
    return {k: getattr(config, k) for k in config.__dataclass_fields__}


@pytest.mark.parametrize("command", SPELLINGS)
def test_every_command_reads_every_spelling_as_its_type(command, tmp_path, handed, capsys):
    drive, settings = SPELLINGS[command]
    drive(tmp_path, settings)
    got = _settings(command, handed, capsys)
    if command == "train":
        got = {"temperature": got["rollout"]["temperature"], "lr": got["policy"]["lr"],
               "enabled": got["prm"]["enabled"], "max_steps": got["max_steps"]}  # fmt: skip
    want = {"run": {"temperature": 0.6, "top_p": 1e-4, "n": 10},
            "train": {"temperature": 0.6, "lr": 1e-4, "enabled": True, "max_steps": 10},
            "sft": {"answer_only_fraction": 0.6, "lr": 1e-4, "progress": True, "steps": 10},
            "prm": {"beta": 0.6, "lr": 1e-4, "gradient_checkpointing": True, "epochs": 10}}[command]  # fmt: skip
    assert {k: got[k] for k in want} == want
    assert all(type(got[k]) is type(v) for k, v in want.items())  # 10 is an int, 0.6 a float, true a bool


MISSPELT = {
    "run": ({"temprature": 0.6}, "unknown setting 'temprature' (did you mean 'temperature'?)"),
    "train": ({"rollout": {"temprature": 0.6}}, "unknown setting 'rollout.temprature' (did you mean 'temperature'?)"),
    "sft": ({"examlpes": 5}, "unknown setting 'examlpes' (did you mean 'examples'?)"),
    "prm": ({"bta": 0.1}, "unknown setting 'bta' (did you mean 'beta'?)"),
}  # fmt: skip


@pytest.mark.parametrize("command", MISSPELT)
def test_a_misspelt_key_is_refused_with_a_suggestion(command, tmp_path, handed, capsys):
    settings, message = MISSPELT[command]
    assert SPELLINGS[command][0](tmp_path, settings) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and not handed


NOT_A_NUMBER = {
    "run": ({"temperature": "abc"}, "temperature must be a number, got 'abc'"),
    "train": ({"policy": {"lr": "abc"}}, "policy.lr must be a number, got 'abc'"),
    "sft": ({"lr": "abc"}, "lr must be a number, got 'abc'"),
    "prm": ({"beta": "abc"}, "beta must be a number, got 'abc'"),
}


@pytest.mark.parametrize("command", NOT_A_NUMBER)
def test_text_for_a_number_is_one_line(command, tmp_path, handed, capsys):
    settings, message = NOT_A_NUMBER[command]
    assert SPELLINGS[command][0](tmp_path, settings) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err and not handed


@pytest.mark.parametrize(
    "text, message", [("nan", "must be finite"), ("1.5", "must be an integer"), ("[1]", "must be an integer"),
                      ("yes please", "must be an integer")],
)  # fmt: skip
def test_integers_refuse_what_is_no_integer(text, message, tmp_path, handed, capsys):
    assert _run(tmp_path, {"n": yaml.safe_load(text)}) == 2
    assert f"n {message}" in capsys.readouterr().err


def test_run_takes_section_key_overrides(tmp_path, handed):
    _run(tmp_path, {"temperature": 0.5}, "--backend_options.id_field", "qid", "--verify_timeout_s", "30",
         "--top-p=0.9")  # fmt: skip
    (config,) = handed
    assert config.backend_options == {"id_field": "qid"} and config.verify_timeout_s == 30.0 and config.top_p == 0.9
    assert config.temperature == 0.5


def test_run_override_misspelt_or_without_value_is_one_line(tmp_path, handed, capsys):
    assert _run(tmp_path, {}, "--verify_timout_s", "30") == 2
    assert "(did you mean 'verify_timeout_s'?)" in capsys.readouterr().err
    assert _run(tmp_path, {}, "--seed_x") == 2
    assert "--seed_x needs a value" in capsys.readouterr().err and not handed


def test_train_overrides_win_over_the_recipe(tmp_path, capsys):
    assert _train(tmp_path, {"rollout": {"temperature": 0.6}}, "--rollout.temperature", "0.8", "--prm.enabled=no") == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["rollout"]["temperature"] == 0.8 and printed["prm"]["enabled"] is False


def test_sft_and_prm_flags_win_over_the_file_and_the_file_over_defaults(tmp_path, handed):
    _sft(tmp_path, {"lr": 0.01, "batch_size": 4}, "--lr", "0.02")
    _prm(tmp_path, {"beta": 0.5, "epochs": 3}, "--beta", "0.25")
    sft, prm = handed
    assert (sft.lr, sft.batch_size, sft.examples) == (0.02, 4, 4000)
    assert (prm.beta, prm.epochs, prm.seed) == (0.25, 3, 0)


def test_sft_flags_come_from_its_fields(tmp_path, handed, capsys):
    _sft(tmp_path, {}, "--steps", "0", "--prompt-mode", "plain", "--answer-only-resample")
    sft = handed[0]
    assert (sft.steps, sft.prompt_mode, sft.answer_only_resample) == (None, "plain", True)  # --steps 0: by epochs
    with pytest.raises(SystemExit):
        train_main(["sft", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--min-lr-ratio MIN_LR_RATIO cosine floor, x lr (default 0.1)" in out


def test_a_setting_without_default_must_be_given(tmp_path, handed, capsys):
    assert train_main(["prm", "--model", "m", "--output", "o"]) == 2
    assert "prime-train prm: error: data is required" in capsys.readouterr().err and not handed


def _leaves(tree: dict, prefix: str = "") -> list[str]:
    """Every setting's dotted name; an empty mapping (deepspeed.extra) is a setting, not a section."""
    nested = {
        key: _leaves(v, f"{prefix}{key}.") if v and isinstance(v, dict) else [prefix + key] for key, v in tree.items()
    }
    return [name for names in nested.values() for name in names]


def test_help_lists_every_setting_with_the_help_its_field_carries(capsys):
    from prime_train.config import TrainConfig

    with pytest.raises(SystemExit):
        train_main(["--help"])
    listed = [line.split(" = ")[0].strip() for line in capsys.readouterr().out.splitlines() if " = " in line]
    assert listed == _leaves(TrainConfig().to_dict())
    with pytest.raises(SystemExit):
        train_main(["prm", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--beta BETA scale of the summed log-ratio (default 0.05)" in out and "--no-gradient-checkpointing" in out


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["--rollout.temperature", "1" + "0" * 400], "rollout.temperature must be finite"),  # beyond the float range
        (["--rollout", "false"], "rollout must be a mapping, got False"),  # not an empty section
        (["--eval.benchmarks", "[a, [b]]"], "eval.benchmarks[1] must be text, got ['b']"),
    ],
)
def test_values_at_the_edges_are_refused_in_one_line(overrides, message, tmp_path, capsys):
    assert _train(tmp_path, {}, *overrides) == 2
    assert message in capsys.readouterr().err


def test_list_items_and_text_that_is_no_yaml_keep_their_types(tmp_path, capsys):
    long_int = "1" + "0" * 30
    argv = ["--eval.benchmarks", "[1, arith]", "--data.path", "[draft", "--max_steps", long_int]
    assert _train(tmp_path, {}, *argv) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["eval"]["benchmarks"] == ["1", "arith"] and printed["data"]["path"] == "[draft"
    assert printed["max_steps"] == int(long_int)  # every digit, not a float's approximation
