"""``TrainConfig``: every setting of a PRIME run, from a recipe YAML with ``--section.key value`` overrides.

Defaults are the reference code's (docs/algorithm.md §defaults) except where a field says otherwise; a recipe sets
what a run changes. Unknown keys are errors with a did-you-mean, never silently ignored: a misspelt ``lr`` would
otherwise train with the default and look like a result.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from prime_common.typed_config import ConfigError, build, merge, read_settings, setting, suggest
from prime_common.typed_config import parse_overrides as parse_overrides  # the trainer's CLI and tests read it here

RECIPES_DIR = Path(__file__).parent / "recipes"


@dataclass
class ModelConfig:
    policy: str = setting("", "HF id or local path of the SFT checkpoint")
    prm: str | None = setting(None, "implicit PRM init (default: the policy's checkpoint, as the paper does)")
    reference: str | None = setting(None, "frozen reference (default: the policy's checkpoint)")
    dtype: Literal["auto", "bf16", "bfloat16", "fp32", "float32"] = setting("auto", "auto: bf16 on GPU, fp32 on CPU")
    gradient_checkpointing: bool = False
    trust_remote_code: bool = False


@dataclass
class DataConfig:
    benchmark: str | None = setting("arith", "a registry benchmark (its train split where it has one)")
    split: str = "train"
    size: int | None = setting(None, "generated benchmarks: how many training problems (default: the definition's)")
    path: str | None = setting(None, "a JSONL file with question/gold fields instead of a benchmark")
    question_field: str = "question"
    gold_field: str = "gold"
    messages_field: str | None = setting(None, "rows' own chat messages (used as is, no prompt template)")
    verifier: str = setting("math", 'math | code | "module:Class" (a picklable Verifier, for custom tasks)')
    extraction_profile: Literal["default", "strict"] = setting(
        "default",
        'math only: "strict" pays only for marked answers (boxes, answer phrases, "####"/"A:" end markers), never '
        'for a value read from a bare last line or the final sentence (docs/verifier.md, "Extraction profiles")',
    )
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
    batch_size: int = setting(64, "prompts per generate() call with the hf backend")
    oversample_factor: float = setting(1.0, "prompts drawn per filtering round, as a multiple of prompts_per_step")
    max_rounds: int = setting(8, "filtering rounds before a step trains on what it has")
    filter_low: float | None = setting(0.2, "accuracy band of kept groups; None switches the filter off")
    filter_high: float | None = 0.8
    filter_truncated: bool = setting(False, "drop a group when any response hit max_new_tokens (reference: off)")
    verify_timeout_s: float = 10.0
    verify_workers: int | None = None
    vllm_gpu_memory_utilization: float = 0.4


@dataclass
class OptimConfig:
    lr: float = 5e-7
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    mini_batch_size: int = setting(256, "responses per optimizer step")
    micro_batch_size: int = setting(8, "responses per forward/backward on one process")


@dataclass
class PRMConfig:
    enabled: bool = setting(True, "False: outcome-only RLOO, the same trainer without process rewards")
    beta: float = 0.05
    loss: Literal["ce", "dpo"] = "ce"
    update: Literal["after", "before", "none"] = setting(
        "after", "after: one forward (reference); before: update, then score"
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
    advantage_variant: Literal["reference", "paper", "sequence"] = setting("reference", "sequence: length-neutral")
    gamma: float = 1.0
    process_coef: float = 1.0
    outcome_coef: float = 1.0
    whiten: bool = True


@dataclass
class DeepSpeedConfig:
    zero_stage: int = 2
    offload_optimizer: bool = False
    extra: dict[str, Any] = setting({}, "merged into the DeepSpeed config dict as given")


@dataclass
class EvalConfig:
    benchmarks: list[str] = setting([], "empty: no checkpoint evaluation")
    limit: int | None = None
    n: int = 1
    temperature: float = 0.0
    max_tokens: int | None = None
    prompt_mode: str | None = setting(None, "default: data.prompt_mode, so evaluation sees the training prompts")
    backend: str = "hf"
    at_start: bool = setting(True, "also score the initial policy, as step 0")
    extra_args: list[str] = setting([], "passed to `prime-eval run` as is")


@dataclass
class TrainConfig:
    output_dir: str = "runs/prime"
    max_steps: int = 100
    seed: int = 0
    save_every: int = 10
    keep_checkpoints: int | None = setting(None, "None keeps all (each is scored); N keeps the newest N")
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


def resolve_recipe(name_or_path: str) -> Path:
    """A recipe file: a path, or the name of a packaged recipe (``tiny-cpu``, ``eurus2-7b-prime``...)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    packaged = RECIPES_DIR / f"{name_or_path.replace('-', '_')}.yaml"
    if packaged.is_file():
        return packaged
    names = sorted(p.stem.replace("_", "-") for p in RECIPES_DIR.glob("*.yaml"))
    raise ConfigError(f"no recipe file or packaged recipe {name_or_path!r}{suggest(name_or_path, names)}")


def load_config(recipe: str | None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The recipe (file or packaged name), then ``overrides`` on top."""
    raw = read_settings(resolve_recipe(recipe), "recipe") if recipe else {}
    return build(TrainConfig, merge(raw, overrides or {}))
