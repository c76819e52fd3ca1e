"""The settings of one evaluation run: flags, a YAML file (``--config``) and named presets, merged in that order
of precedence (flags win)."""

from __future__ import annotations

import math
import types
import typing
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

PAPER_MATH = "aime24,amc,math500,minerva_math,olympiadbench"

# PRIME's evaluation (its eval/run.sh): greedy, one sample, its system prompt with the literal-\n quirk, and each
# benchmark's own token limit (from the benchmark definitions, max_tokens=None here).
PRESETS: dict[str, dict[str, Any]] = {
    "prime-paper": {
        "benchmarks": PAPER_MATH + ",leetcode",
        "n": 1,
        "temperature": 0.0,
        "top_p": 1.0,
        "max_tokens": None,
        "prompt_mode": "prime",
        "seed": 0,
    },
    # Reasoning models (<think> blocks, which the verifier strips): room to think, the sampling their cards advise,
    # and several samples so avg@n and pass@k are worth reading.
    "reasoning": {
        "benchmarks": PAPER_MATH,
        "n": 4,
        "temperature": 0.6,
        "top_p": 0.95,
        "max_tokens": 32768,
        "prompt_mode": "chat",
        "seed": 0,
    },
    # The maintainers' answer to run-to-run variance (PRIME #63): T=0.3, top_p=0.95, avg@16.
    "prime-avg16": {
        "benchmarks": "aime24,amc",
        "n": 16,
        "temperature": 0.3,
        "top_p": 0.95,
        "max_tokens": None,
        "prompt_mode": "prime",
        "seed": 0,
    },
}


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class RunConfig:
    model: str = ""
    backend: str = "hf"
    benchmarks: str = PAPER_MATH
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int | None = None  # None: each benchmark's default
    seed: int = 0
    limit: int | None = None
    output: str = ""
    prompt_mode: str = "chat"
    data_dir: str | None = None
    include_path: str | None = None  # the user's benchmark definitions: a folder of YAML files, or one file
    data_source: str = "auto"
    backend_options: dict[str, Any] = field(default_factory=dict)  # e.g. {"base_url": ..., "tensor_parallel_size": 2}
    verify_workers: int | None = None
    verify_timeout_s: float | None = None
    preset: str | None = None

    def identity(self) -> dict[str, Any]:
        """What must not change between a run and its resumption: everything that shapes a sample."""
        keep = ("model", "backend", "n", "temperature", "top_p", "max_tokens", "seed", "prompt_mode")
        return {k: getattr(self, k) for k in keep}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_config(flags: dict[str, Any], config_file: Path | None = None) -> RunConfig:
    """Preset, then the YAML file, then explicit flags (``None`` means "not given")."""
    merged: dict[str, Any] = {}
    file_values: dict[str, Any] = {}
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"--config {config_file}: no such file")
        loaded = yaml.safe_load(config_file.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"--config {config_file}: expected a mapping of settings")
        file_values = loaded
    preset = flags.get("preset") or file_values.get("preset")
    if preset:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
        merged.update(PRESETS[preset], preset=preset)
    merged.update(file_values)
    merged.update({k: v for k, v in flags.items() if v is not None})
    known = {f.name for f in fields(RunConfig)}
    unknown = sorted(set(merged) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    config = replace(RunConfig(), **{k: _typed(k, v) for k, v in merged.items()})
    _validate(config)
    return config


_HINTS = typing.get_type_hints(RunConfig)


def _typed(name: str, value: Any) -> Any:
    """``value`` as the type ``name`` declares (YAML may give ``"0.6"`` or ``1`` for a float), or a ConfigError: a
    wrong type must fail here, in one line, not as a TypeError deep in a run. Numbers must be finite (NaN passes
    every range check after this one)."""
    hint = _HINTS[name]
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType)
    allowed = typing.get_args(hint) if optional else (hint,)
    if value is None and type(None) in allowed:
        return None
    for kind in (int, float):
        if kind in allowed:
            try:
                number = kind(value) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None
            except ValueError:
                number = None
            if (
                number is None
                or not math.isfinite(number)
                or (kind is int and isinstance(value, float) and number != value)
            ):
                raise ConfigError(f"{name}: expected {'an integer' if kind is int else 'a number'}, got {value!r}")
            return number
    wanted = next(t for t in allowed if t is not type(None))
    origin = typing.get_origin(wanted) or wanted
    if not isinstance(value, origin):
        raise ConfigError(f"{name}: expected {origin.__name__}, got {value!r}")
    return value


def _validate(c: RunConfig) -> None:
    if not c.model:
        raise ConfigError("--model is required (a Hugging Face id, a local path, or the served model name)")
    if not c.output:
        raise ConfigError("--output is required")
    if c.n < 1 or (c.limit is not None and c.limit < 1):
        raise ConfigError("--n and --limit must be at least 1")
    if c.temperature < 0 or not 0 < c.top_p <= 1:
        raise ConfigError("need --temperature >= 0 and 0 < --top-p <= 1")
    if c.n > 1 and c.temperature == 0 and c.backend != "file":  # a file's samples were drawn elsewhere
        raise ConfigError("--n > 1 with --temperature 0 gives n copies of one greedy answer; set a temperature")
    if c.max_tokens is not None and c.max_tokens < 1:
        raise ConfigError("--max-tokens must be at least 1")
    if c.verify_workers is not None and c.verify_workers < 1:
        raise ConfigError("--verify-workers must be at least 1")
    if c.verify_timeout_s is not None and c.verify_timeout_s <= 0:
        raise ConfigError("verify_timeout_s must be positive")
