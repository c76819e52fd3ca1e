"""The settings of one evaluation run: a named preset, then a YAML file (``--config``), then the command line (its
flags, and any setting as ``--key value`` or ``--section.key value``), later ones winning; typed by
``prime_common.typed_config``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.registry import groups
from prime_common.typed_config import ConfigError, load, read_settings, setting, suggest

# Spelt out rather than "paper_math": a run's saved settings then name its benchmarks, as they always have.
PAPER_MATH = ",".join(groups()["paper_math"].benchmarks)

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


@dataclass(frozen=True)
class RunConfig:
    model: str = ""
    backend: str = "hf"
    benchmarks: str = PAPER_MATH
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int | None = setting(None, "None: each benchmark's default")
    seed: int = 0
    limit: int | None = None
    output: str = ""
    prompt_mode: str = "chat"
    data_dir: str | None = None
    include_path: str | None = setting(None, "the user's benchmark definitions: a folder of YAML files, or one file")
    data_source: str = "auto"
    backend_options: dict[str, Any] = setting({}, "e.g. base_url, tensor_parallel_size (--backend_options.KEY VALUE)")
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
    flags = {k: v for k, v in flags.items() if v is not None}
    preset = flags.get("preset") or (read_settings(config_file) if config_file is not None else {}).get("preset")
    if preset is not None and str(preset) not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}{suggest(str(preset), list(PRESETS))}")
    config = load(RunConfig, config_file, flags, {**PRESETS[str(preset)], "preset": preset} if preset else {})
    _validate(config)
    return config


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
