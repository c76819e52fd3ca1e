"""The one registry helper behind generation backends, verifiers, reward models and sandbox backends;
``get_verifier``; ``describe()`` in the ``Verifier`` protocol."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import sandbox
from prime_common.errors import UserError
from prime_common.registry import Registry, UnknownName
from prime_eval.backends import BackendError, get_backend
from prime_eval.bon.reward_models import REWARD_MODELS
from prime_eval.verify import VERIFIERS, Verifier, get_verifier
from prime_eval.verify.code import CodeConfig, CodeVerifier
from prime_eval.verify.extract import ExtractionConfig
from prime_eval.verify.math import MathConfig, MathVerifier
from tests._bandit_verifier import OneOfVerifier
from tests._hostile_verifier import HostileVerifier
from tests._parity_verifier import ParityVerifier

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: get_backend("vlm"), BackendError, "unknown backend 'vlm'; did you mean 'vllm'? (known: file, hf, "),
        (lambda: get_verifier("mathh"), UnknownName, "unknown verifier 'mathh'; did you mean 'math'? (known: code, "),
        (lambda: REWARD_MODELS.load("orn"), UnknownName, "unknown reward model 'orn'; did you mean 'orm'? (known: "),
        (
            lambda: sandbox.get_backend("dokcer"),
            UnknownName,
            "unknown sandbox backend 'dokcer'; did you mean 'docker'?",
        ),
    ],
)
def test_every_registry_names_an_unknown_name_in_one_line_with_a_suggestion(build, error, message):
    with pytest.raises(error) as caught:
        build()
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert isinstance(caught.value, UserError)  # each command line's main reports it as one line


def test_a_name_far_from_every_known_one_lists_them_without_a_guess():
    with pytest.raises(UnknownName, match=r"^unknown verifier 'zzz' \(known: code, math\)$"):
        get_verifier("zzz")


def test_misspelt_settings_are_named_before_anything_is_built():
    with pytest.raises(
        UnknownName, match=r"verifier 'math': unknown option\(s\) 'percnt' \(did you mean 'percent'\?\)"
    ):
        get_verifier("math", percnt="value")
    with pytest.raises(UnknownName, match=r"sandbox backend 'local': unknown option\(s\) 'wrkers' \(did you mean"):
        sandbox.get_backend("local", wrkers=2)
    with pytest.raises(UnknownName, match=r"reward model 'field': unknown option\(s\) 'feld' \(did you mean 'field'"):
        REWARD_MODELS.create("field", feld="score")


def test_get_verifier_defaults_and_settings():
    assert get_verifier("math") == MathVerifier() and get_verifier("code") == CodeVerifier()
    strict = get_verifier("math", extraction=ExtractionConfig.named("strict"), percent="value")
    assert strict == MathVerifier(MathConfig(extraction=ExtractionConfig.named("strict"), percent="value"))
    assert get_verifier("code", memory_mb=512).config == CodeConfig(memory_mb=512)
    # A verifier of one's own by module:Class path, built with its constructor's keywords (it has no config).
    assert get_verifier("tests._parity_verifier:ParityVerifier") == ParityVerifier()
    assert get_verifier("tests._bandit_verifier:OneOfVerifier", name="x").name == "x"


def test_a_path_that_names_nothing_is_a_user_error_but_a_broken_registered_module_is_not():
    with pytest.raises(UnknownName, match=r"^verifier 'tests\._parity_verifier:Nope': .*Nope"):
        get_verifier("tests._parity_verifier:Nope")
    broken = Registry("thing", {"x": "prime_no_such_module:X"})
    with pytest.raises(ModuleNotFoundError):  # an installation fault keeps its own error and traceback
        broken.load("x")


def test_choosing_a_verifier_imports_only_that_verifier():
    code = (
        "import sys; from prime_eval.verify import get_verifier; get_verifier('math'); "
        "print(sorted(m for m in ('sandbox', 'prime_eval.verify.code', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_the_trainer_builds_its_verifier_through_the_registry():
    from prime_train.config import ConfigError
    from prime_train.verify_rollouts import make_verifier

    assert make_verifier("math", "strict") == get_verifier("math", extraction=ExtractionConfig.named("strict"))
    assert make_verifier("tests._parity_verifier:ParityVerifier") == ParityVerifier()
    with pytest.raises(ConfigError, match="data.verifier: unknown verifier 'cod'; did you mean 'code'"):
        make_verifier("cod")


@pytest.mark.parametrize(
    "verifier",
    [*(get_verifier(name) for name in VERIFIERS.names()), OneOfVerifier(), HostileVerifier(), ParityVerifier()],
    ids=lambda v: v.name,
)
def test_every_verifier_describes_itself(verifier):
    assert isinstance(verifier, Verifier)
    described = verifier.describe()
    assert described["name"] == verifier.name
    assert json.loads(json.dumps(described)) == described  # results.json and bon.json store it as it is


def test_describe_is_part_of_the_protocol():
    @dataclass(frozen=True)
    class Undescribed:
        name: str = "x"

        def verify(self, response, reference, **meta): ...

    assert not isinstance(Undescribed(), Verifier)


def test_no_caller_asks_whether_a_verifier_can_describe_itself():
    pattern = re.compile(r"hasattr\([^)]*['\"]describe['\"]\)")
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("prime_eval", "prime_train", "benchmarks", "sandbox", "prime_common")
        for path in (ROOT / package).rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
