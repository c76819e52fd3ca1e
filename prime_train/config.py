"""``TrainConfig``: every setting of a PRIME run, from a recipe YAML with ``--section.key value`` overrides.

Defaults are the reference code's (docs/algorithm.md §defaults) except where a field says otherwise; a recipe sets
what a run changes. Unknown keys are errors with a did-you-mean, never silently ignored: a misspelt ``lr`` would
otherwise train with the default and look like a result.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import yaml

RECIPES_DIR = Path(__file__).parent / "recipes"


class ConfigError(ValueError):
    """A bad recipe or override: a one-line message for the user."""


@dataclass
class ModelConfig:
    policy: str = ""  # HF id or local path of the SFT checkpoint
    prm: str | None = None  # implicit PRM init (default: the policy's checkpoint, as the paper does)
    reference: str | None = None  # frozen reference (default: the policy's checkpoint)
    dtype: Literal["auto", "bf16", "fp32"] = "auto"  # auto: bf16 on GPU, fp32 on CPU
    gradient_checkpointing: bool = False
    trust_remote_code: bool = False


@dataclass
class DataConfig:
    benchmark: str | None = "arith"  # a registry benchmark (its train split where it has one) ...
    split: str = "train"
    size: int | None = None  # generated benchmarks: how many training problems (default: the definition's size)
    path: str | None = None  # ... or a JSONL file with question/gold fields (overrides benchmark)
    question_field: str = "question"
    gold_field: str = "gold"
    messages_field: str | None = None  # rows carrying their own chat messages (used as is, no prompt template)
    verifier: str = "math"  # math | code | "module:Class" (a picklable Verifier, for custom tasks)
    # math only: "strict" pays only for marked answers (boxes, answer phrases, "####"/"A:" end markers), never for a
    # value read from a bare last line or the final sentence (docs/verifier.md, "Extraction profiles")
    extraction_profile: Literal["default", "strict"] = "default"
    prompt_mode: Literal["prime", "prime_newlines", "chat", "plain"] = "chat"
    limit: int | None = None
    epochs: int = 1


@dataclass
class RolloutConfig:
    backend: Literal["hf", "vllm"] = "hf"
    prompts_per_step: int = 256
    samples_per_prompt: int = 4
    temperature: float = 1.0
    top_p: float = 1.0
    max_prompt_tokens: int = 1024
    max_new_tokens: int = 3072
    batch_size: int = 64  # prompts per generate() call with the hf backend
    oversample_factor: float = 1.0  # prompts drawn per filtering round, as a multiple of prompts_per_step
    max_rounds: int = 8  # filtering rounds before a step trains on what it has
    filter_low: float | None = 0.2  # accuracy band of kept groups; None switches the filter off
    filter_high: float | None = 0.8
    filter_truncated: bool = False  # drop a group when any response hit max_new_tokens (reference: off)
    verify_timeout_s: float = 10.0
    verify_workers: int | None = None
    vllm_gpu_memory_utilization: float = 0.4


@dataclass
class OptimConfig:
    lr: float = 5e-7
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    mini_batch_size: int = 256  # responses per optimizer step
    micro_batch_size: int = 8  # responses per forward/backward on one process


@dataclass
class PRMConfig:
    enabled: bool = True  # False: outcome-only RLOO, the same trainer without process rewards
    beta: float = 0.05
    loss: Literal["ce", "dpo"] = "ce"
    update: Literal["after", "before", "none"] = (
        "after"  # after = single forward (reference); before = update then score
    )
    granularity: Literal["token", "whole"] = "token"
    norm: Literal["batch_norm", "none"] = "batch_norm"
    lr: float = 1e-6
    weight_decay: float = 0.0
    grad_clip: float = 10.0
    mini_batch_size: int = 256
    micro_batch_size: int = 8


@dataclass
class AlgorithmConfig:
    clip_eps: float = 0.2
    ppo_epochs: int = 1
    advantage_variant: Literal["reference", "paper", "sequence"] = "reference"  # sequence: length-neutral baseline
    gamma: float = 1.0
    process_coef: float = 1.0
    outcome_coef: float = 1.0
    whiten: bool = True


@dataclass
class DeepSpeedConfig:
    zero_stage: int = 2
    offload_optimizer: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # merged into the DeepSpeed config dict as given


@dataclass
class EvalConfig:
    benchmarks: list[str] = field(default_factory=list)  # empty: no checkpoint evaluation
    limit: int | None = None
    n: int = 1
    temperature: float = 0.0
    max_tokens: int | None = None
    prompt_mode: str | None = None  # default: data.prompt_mode, so evaluation sees the training prompts
    backend: str = "hf"
    at_start: bool = True  # also score the initial policy, as step 0
    extra_args: list[str] = field(default_factory=list)  # passed to `prime-eval run` as is


@dataclass
class TrainConfig:
    output_dir: str = "runs/prime"
    max_steps: int = 100
    seed: int = 0
    save_every: int = 10
    keep_checkpoints: int | None = None  # None keeps all (each is scored); N keeps the newest N
    tensorboard: bool = True
    wandb_project: str | None = None
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    policy: OptimConfig = field(default_factory=OptimConfig)
    prm: PRMConfig = field(default_factory=PRMConfig)
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)
    deepspeed: DeepSpeedConfig = field(default_factory=DeepSpeedConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def prm_optim(self) -> OptimConfig:
        p = self.prm
        return OptimConfig(p.lr, p.weight_decay, p.grad_clip, p.mini_batch_size, p.micro_batch_size)

    def validate(self, world_size: int = 1) -> None:
        """Cross-field checks, with the numbers that do not fit."""
        r, k = self.rollout, self.rollout.samples_per_prompt
        if not self.model.policy:
            raise ConfigError("model.policy is required (a Hugging Face id or a local checkpoint folder)")
        if k < 2:
            raise ConfigError("rollout.samples_per_prompt must be at least 2: RLOO's leave-one-out needs two samples")
        if r.prompts_per_step < world_size or r.prompts_per_step % world_size:
            raise ConfigError(
                f"rollout.prompts_per_step ({r.prompts_per_step}) must be a multiple of the {world_size} processes"
            )
        if (r.filter_low is None) != (r.filter_high is None):
            raise ConfigError("set both rollout.filter_low and rollout.filter_high, or neither (no filter)")
        if r.filter_low is not None and not 0 <= r.filter_low <= r.filter_high <= 1:
            raise ConfigError(f"need 0 <= filter_low <= filter_high <= 1, got [{r.filter_low}, {r.filter_high}]")
        if r.oversample_factor < 1 or r.max_rounds < 1:
            raise ConfigError("rollout.oversample_factor must be >= 1 and rollout.max_rounds >= 1")
        if r.temperature <= 0:
            raise ConfigError("rollout.temperature must be positive: RL needs sampled, distinct responses")
        rows = r.prompts_per_step * k
        for name, opt in (("policy", self.policy), ("prm", self.prm)):
            if opt.mini_batch_size % (opt.micro_batch_size * world_size):
                raise ConfigError(
                    f"{name}.mini_batch_size ({opt.mini_batch_size}) must be a multiple of {name}.micro_batch_size "
                    f"({opt.micro_batch_size}) x {world_size} processes"
                )
            if rows % opt.mini_batch_size:
                raise ConfigError(
                    f"{name}.mini_batch_size ({opt.mini_batch_size}) must divide the step's "
                    f"{rows} responses (prompts_per_step x samples_per_prompt)"
                )
        if self.prm.enabled and self.prm.loss == "dpo" and self.prm.micro_batch_size % k:
            raise ConfigError("prm.loss=dpo compares within groups: prm.micro_batch_size must be a multiple of K")
        if self.deepspeed.zero_stage not in (0, 1, 2):
            raise ConfigError(
                "deepspeed.zero_stage must be 0, 1 or 2: rollouts call generate() on each process's full copy of "
                "the policy, which ZeRO-3's sharded parameters do not allow (use offload_optimizer for memory)"
            )
        if self.save_every < 1 or self.max_steps < 1:
            raise ConfigError("save_every and max_steps must be at least 1")


def _suggest(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(known)}"


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = get_origin(hint)
    args = [a for a in get_args(hint) if a is not type(None)]
    if value is None:
        if type(None) in get_args(hint):
            return None
        raise ConfigError(f"{where} may not be null")
    if origin is Literal:
        if value not in get_args(hint):
            raise ConfigError(f"{where} must be one of {', '.join(map(str, get_args(hint)))}, got {value!r}")
        return value
    if origin is not None and len(args) == 1 and origin is not list and origin is not dict:  # Optional[X]
        return _coerce(value, args[0], where)
    if origin is list:
        if not isinstance(value, list):
            value = [v.strip() for v in str(value).split(",") if v.strip()]
        return list(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if hint in (int, float):
        if hint is float and isinstance(value, str):
            value = _float_text(value)  # YAML 1.1 reads 1e-4 (no dot) as text; Python's float() reads it all
        # NaN and infinities pass range checks such as "temperature <= 0" and then poison the run.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be {'an integer' if hint is int else 'a number'}, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be finite, got {value!r}")
        if hint is int and value != int(value):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return hint(value)
    if hint is str:
        if isinstance(value, (dict, list, bool)):
            raise ConfigError(f"{where} must be text, got {value!r}")
        return str(value)
    return value


def _float_text(text: str) -> float | str:
    """``text`` as a float when it spells one (``1e-4``, ``5E-7``, ``.5``, ``1_000.0``), else unchanged."""
    try:
        return float(text.strip())
    except ValueError:
        return text


def setting_changes(before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> list[str]:
    """Every leaf setting that differs, as ``section.key: old -> new`` (a resume names what changed)."""
    out = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        path = f"{prefix}{key}"
        if isinstance(old, dict) and isinstance(new, dict):
            out += setting_changes(old, new, path + ".")
        elif old != new:
            out.append(f"{path}: {old!r} -> {new!r}")
    return out


def _build(cls: type, raw: dict[str, Any], where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'the recipe'} must be a mapping, got {raw!r}")
    hints = get_type_hints(cls)
    known = [f.name for f in fields(cls)]
    kwargs = {}
    for key, value in raw.items():
        path = f"{where}.{key}" if where else key
        if key not in known:
            raise ConfigError(f"unknown setting {path!r}{_suggest(key, known)}")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value or {}, path)
        else:
            kwargs[key] = _coerce(value, hint, path)
    return cls(**kwargs)


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.replace("-", "_").split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--{dotted}: {part!r} is a value, not a section")
    node[parts[-1]] = value


def resolve_recipe(name_or_path: str) -> Path:
    """A recipe file: a path, or the name of a packaged recipe (``tiny-cpu``, ``eurus2-7b-prime``...)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    packaged = RECIPES_DIR / f"{name_or_path.replace('-', '_')}.yaml"
    if packaged.is_file():
        return packaged
    names = sorted(p.stem.replace("_", "-") for p in RECIPES_DIR.glob("*.yaml"))
    raise ConfigError(f"no recipe file or packaged recipe {name_or_path!r}{_suggest(name_or_path, names)}")


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """``--section.key value`` / ``--section.key=value`` pairs as a nested dict; values are read as YAML scalars
    (``--prm.enabled false``, ``--eval.benchmarks arith,math500``)."""
    tree: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or arg == "--":
            raise ConfigError(f"unexpected argument {arg!r}; settings are given as --section.key value")
        key, eq, text = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                raise ConfigError(f"--{key} needs a value")
            text = args[i + 1]
            i += 1
        i += 1
        _set_path(tree, key, yaml.safe_load(text) if text != "" else "")
    return tree


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_config(recipe: str | None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The recipe (file or packaged name), then ``overrides`` on top."""
    raw: dict[str, Any] = {}
    if recipe:
        raw = read_recipe(resolve_recipe(recipe))
    return _build(TrainConfig, _merge(raw, overrides or {}), "")


def read_recipe(path: Path) -> dict[str, Any]:
    """A recipe file's settings; any fault in the file is one line naming it."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        before = exc.object[: exc.start]
        line, column = before.count(b"\n") + 1, exc.start - before.rfind(b"\n")
        where = f"{path}:{line}:{column}"
        raise ConfigError(f"{where}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: a recipe is a mapping of settings (section: {{key: value}}), got {type(raw).__name__}"
        )
    return raw
