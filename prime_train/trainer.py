"""``PrimeTrainer``: one PRIME step is rollout -> verify -> filter -> PRM -> advantages -> PPO, then checkpoint ->
eval. With ``prm.enabled: false`` the same loop is outcome-only RLOO, so the two compare on equal footing.

Data parallelism: every process draws the same prompts, generates and verifies its share, and the groups are
all-gathered so every process sees the same kept set in the same order and trains on its own equal slice (ZeRO
needs the same number of backward passes on every process). Whitening statistics are all-reduced, so advantages
are whitened over the global batch as the reference's driver does; PRM batch normalisation stays per process, as
the reference's per-shard normalisation (docs/algorithm.md §implicit-reward).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from prime_eval.device import dtype_name, resolve_dtype
from prime_eval.prompts import PromptTemplate

from .algorithms import masked_mean, masked_moments, rloo_advantages, whiten_with_moments
from .batch import TokenBatch, batched_logprobs, build_batch
from .checkpoint import complete_checkpoints, load_checkpoint, prune_checkpoints, save_checkpoint
from .config import ConfigError, TrainConfig, load_config
from .data import PromptSource, load_prompts
from .evaluation import CheckpointEvaluator
from .metrics_log import MetricsLog
from .ppo import ppo_update
from .prm import prm_step
from .rollout import HFRollout, VLLMRollout, encode_prompts
from .strategy import DeepSpeedStrategy
from .verify_rollouts import BackgroundVerifier, Group, distance_to_band, keeps, make_verifier

# Settings a resumed run may change; anything else differing from the saved config is refused.
_RESUMABLE_CHANGES = {"max_steps", "save_every", "keep_checkpoints", "eval", "tensorboard", "wandb_project"}


def _load_model(path: str, dtype: torch.dtype, trust_remote_code: bool):
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(path, dtype=dtype, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load model {path!r}: {exc}") from None


def _seed_of(*parts: object) -> int:
    """A 31-bit seed from parts, the same in every process (``hash`` of a str is salted per process)."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:4], "little") >> 1


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str):
        timer = self

        class _Span:
            def __enter__(self):
                self.start = time.perf_counter()

            def __exit__(self, *exc):
                timer.seconds[name] = timer.seconds.get(name, 0.0) + time.perf_counter() - self.start

        return _Span()


class PrimeTrainer:
    def __init__(self, cfg: TrainConfig, *, resume: bool = False):
        self.strategy = DeepSpeedStrategy()
        cfg.validate(self.strategy.world_size)
        self.cfg = cfg
        self.run_dir = Path(cfg.output_dir)
        self.device = self.strategy.device
        self.k = cfg.rollout.samples_per_prompt
        self._seed_everything(cfg.seed + self.strategy.rank)
        self._check_run_dir(resume)

        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(cfg.model.policy, trust_remote_code=cfg.model.trust_remote_code)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        items, kind = load_prompts(cfg.data)
        self.source = PromptSource(items, cfg.seed, cfg.data.epochs)
        self.template = PromptTemplate(cfg.data.prompt_mode, kind)
        self.verifier = make_verifier(cfg.data.verifier, cfg.data.extraction_profile)

        frozen_dtype = resolve_dtype(cfg.model.dtype, self.device)
        bf16 = frozen_dtype == torch.bfloat16
        policy = _load_model(cfg.model.policy, torch.float32, cfg.model.trust_remote_code)
        if cfg.model.gradient_checkpointing:
            policy.gradient_checkpointing_enable()
        self.engines = {"policy": self.strategy.engine(policy, cfg.policy, cfg.deepspeed, bf16=bf16, name="policy")}
        self.reference = None
        if cfg.prm.enabled:
            ref_path = cfg.model.reference or cfg.model.policy
            self.reference = _load_model(ref_path, frozen_dtype, cfg.model.trust_remote_code).to(self.device)
            self.reference.eval().requires_grad_(False)
            prm = _load_model(cfg.model.prm or cfg.model.policy, torch.float32, cfg.model.trust_remote_code)
            if cfg.model.gradient_checkpointing:
                prm.gradient_checkpointing_enable()
            self.engines["prm"] = self.strategy.engine(prm, cfg.prm_optim(), cfg.deepspeed, bf16=bf16, name="prm")
        policy_module = self.engines["policy"].module
        if cfg.rollout.backend == "vllm":
            self.rollout = VLLMRollout(cfg.model.policy, cfg.rollout, dtype_name(frozen_dtype))
        else:
            self.rollout = HFRollout(policy_module, self.tokenizer, cfg.rollout)

        self.step = 0
        self.samples_seen = 0
        self.log = None
        self.evaluator = None
        if self.strategy.is_main:
            self.log = MetricsLog(
                self.run_dir, tensorboard=cfg.tensorboard, wandb_project=cfg.wandb_project, config=cfg.to_dict()
            )
            if cfg.eval.benchmarks:
                self.evaluator = CheckpointEvaluator(
                    cfg.eval, self.run_dir, cfg.data.prompt_mode, cfg.seed, self.log.log_eval
                )
        if resume:
            self._resume()
            # The engine was built from model.policy, before the checkpoint's weights were loaded into the policy.
            self.rollout.sync(self.engines["policy"].module)
        self.verify = BackgroundVerifier(self.verifier, cfg.rollout)

    # -- setup -------------------------------------------------------------------------------------------------
    @staticmethod
    def _seed_everything(seed: int) -> None:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)

    def _check_run_dir(self, resume: bool) -> None:
        saved = self.run_dir / "config.yaml"
        current = self.cfg.to_dict()
        if resume and saved.is_file():
            # Read through the config classes so a setting added since the run was started counts as its default.
            before = load_config(None, yaml.safe_load(saved.read_text())).to_dict()
            changed = sorted(k for k in current if k not in _RESUMABLE_CHANGES and before.get(k) != current[k])
            if changed:
                raise ConfigError(
                    f"--resume: settings differ from the run in {self.run_dir}: {', '.join(changed)}; "
                    "resume with the same recipe, or start a new --output-dir"
                )
        elif not resume and complete_checkpoints(self.run_dir):
            raise ConfigError(
                f"{self.run_dir} already holds checkpoints; pass --resume to continue it, or choose another "
                "--output-dir"
            )
        if self.strategy.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            saved.write_text(yaml.safe_dump(current, sort_keys=False))
        self.strategy.barrier()

    def _resume(self) -> None:
        found = complete_checkpoints(self.run_dir)
        if not found:
            self._print(f"--resume: no complete checkpoint in {self.run_dir}; starting from the beginning")
            return
        step, folder = found[-1]
        state = json.loads((folder / "trainer_state.json").read_text())
        if state["world_size"] != self.strategy.world_size:
            raise ConfigError(
                f"{folder} was written by {state['world_size']} processes and this run has "
                f"{self.strategy.world_size}: ZeRO optimizer shards only load into the same layout"
            )
        state = load_checkpoint(self.strategy, folder, self.engines)
        self.source.load_state(state["data"])
        self.step, self.samples_seen = state["step"], state["samples_seen"]
        if self.log is not None:
            self.log.truncate_after(self.step)
        if self.evaluator is not None:
            for s, f in found:
                self.evaluator.submit(s, str(f))
            if self.cfg.eval.at_start:
                self.evaluator.submit(0, self.cfg.model.policy)
        self._print(f"resumed from {folder} at step {self.step}")

    def _print(self, message: str) -> None:
        if self.strategy.is_main:
            print(f"prime-train: {message}", file=sys.stderr, flush=True)

    # -- one step ----------------------------------------------------------------------------------------------
    def _rollout_groups(self, items: list, seed: int, timer: _Timer) -> list[Group]:
        """Generate K responses for this process's prompts, chunk by chunk, verifying each chunk in the background
        while the next one generates."""
        rendered = [item.messages or self.template.render(item.question) for item in items]
        prompt_ids = encode_prompts(self.tokenizer, rendered, self.cfg.rollout.max_prompt_tokens)
        groups: list[Group] = []
        size = self.cfg.rollout.batch_size
        for start in range(0, len(items), size):
            chunk = prompt_ids[start : start + size]
            with timer("rollout"):
                responses = self.rollout.generate(chunk, self.k, seed=_seed_of(seed, start))
            made = []
            for item, ids, group in zip(items[start : start + size], chunk, responses):
                texts = self.tokenizer.batch_decode([r.ids for r in group], skip_special_tokens=True)
                made.append(Group(item.id, ids, [r.ids for r in group], [r.truncated for r in group], texts))
            self.verify.submit(made, [item.gold for item in items[start : start + size]])
            groups.extend(made)
        with timer("verify_wait"):
            self.verify.wait()
        return groups

    def _collect(self, timer: _Timer, stats: dict[str, float]) -> list[Group] | None:
        """Filtering rounds until ``prompts_per_step`` groups pass (§accuracy-filter); a short batch is filled with the
        rejected groups closest to the band (as the veRL recipe does) so every step has the same shape. None when
        the data is exhausted."""
        r, world, rank = self.cfg.rollout, self.strategy.world_size, self.strategy.rank
        target = r.prompts_per_step
        draw = math.ceil(target * r.oversample_factor / world) * world
        kept: list[Group] = []
        rejected: list[Group] = []
        generated = []
        for round_index in range(r.max_rounds):
            items = self.source.take(draw)
            if not items:
                break
            mine = items[rank::world]
            seed = _seed_of(self.cfg.seed, self.step, round_index, rank)
            gathered = self.strategy.all_gather_object(self._rollout_groups(mine, seed, timer))
            ordered = [gathered[i % world][i // world] for i in range(len(items))]  # global prompt order
            generated.extend(ordered)
            for g in ordered:
                (kept if keeps(g, r) else rejected).append(g)
            stats["rollout/rounds"] = round_index + 1
            if len(kept) >= target:
                break
        self.source.give_back([self.source.by_id[g.prompt_id] for g in kept[target:]])
        kept = kept[:target]
        if len(kept) < target:
            need = target - len(kept)
            if len(rejected) < need:
                return None
            fill = sorted(rejected, key=lambda g: distance_to_band(g, r))[:need]
            stats["rollout/filled_from_rejected"] = len(fill)
            kept += fill
        scores = [s for g in generated for s in g.scores]
        lengths = [len(ids) for g in generated for ids in g.response_ids]
        stats.update({
            "rollout/accuracy": sum(scores) / len(scores),
            "rollout/groups": len(generated),
            "rollout/kept_fraction": sum(keeps(g, r) for g in generated) / len(generated),
            "rollout/truncated_fraction": sum(t for g in generated for t in g.truncated) / len(lengths),
            "rollout/response_length": sum(lengths) / len(lengths),
            "rollout/response_length_max": max(lengths),
        })  # fmt: skip
        per = target // world
        return kept[rank * per : (rank + 1) * per]

    def _to_batch(self, groups: list[Group]) -> TokenBatch:
        prompts = [g.prompt_ids for g in groups for _ in g.response_ids]
        responses = [ids for g in groups for ids in g.response_ids]
        scores = [s for g in groups for s in g.scores]
        return build_batch(prompts, responses, scores, self.pad_id)

    def _advantages(self, batch: TokenBatch, process: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.cfg.algorithm
        _, returns = rloo_advantages(
            process,
            batch.scores,
            batch.response_mask,
            self.k,
            gamma=a.gamma,
            whiten=False,
            variant=a.advantage_variant,
            process_coef=a.process_coef if self.cfg.prm.enabled else 0.0,
            outcome_coef=a.outcome_coef,
        )
        if not a.whiten:
            return returns.clone(), returns
        moments = self.strategy.all_reduce_sum(masked_moments(returns, batch.response_mask)).cpu()
        return whiten_with_moments(returns, batch.response_mask, moments), returns

    def train_step(self) -> dict[str, float] | None:
        """One RL step on this process; the step's metrics (averaged over processes), or None when out of data."""
        timer, stats = _Timer(), {}
        start, cpu_start = time.perf_counter(), time.process_time()
        groups = self._collect(timer, stats)
        if groups is None:
            return None
        self.step += 1
        self.train_on(groups, timer, stats)
        stats.update({f"time/{k}": v for k, v in timer.seconds.items()})
        stats["time/step"] = time.perf_counter() - start
        # This process's CPU seconds (all its threads): far below time/step means the machine is busy elsewhere.
        stats["time/step_cpu"] = time.process_time() - cpu_start
        return self._average(stats)

    def train_on(self, groups: list[Group], timer: _Timer, stats: dict[str, float]) -> None:
        """The learning half of a step on this process's verified groups: PRM, advantages, PPO (timed in
        ``timer``, metrics into ``stats``). Separate from rollouts so PRIME and RLOO can be timed on the same ones."""
        batch = self._to_batch(groups)
        mask = batch.response_mask
        policy = self.engines["policy"]
        with timer("old_logprob"):
            policy.eval()
            old_logp = batched_logprobs(policy, batch, self.cfg.policy.micro_batch_size, self.device)
        process = torch.zeros_like(old_logp)
        if self.cfg.prm.enabled:
            with timer("ref_logprob"):
                ref_logp = batched_logprobs(self.reference, batch, self.cfg.prm.micro_batch_size, self.device)
            with timer("prm"):
                out = prm_step(self.engines["prm"], self.cfg.prm, batch, ref_logp, self.k, self.device)
            process = out.rewards
            stats.update(out.metrics)
            stats["policy/kl_ref"] = float(masked_mean(old_logp - ref_logp, mask))
            stats["reward/process_sum"] = float((process * mask).sum(dim=1).mean())
        with timer("advantages"):
            advantages, returns = self._advantages(batch, process)
        with timer("policy"):
            stats.update(
                ppo_update(
                    policy,
                    batch,
                    old_logp,
                    advantages,
                    clip_eps=self.cfg.algorithm.clip_eps,
                    epochs=self.cfg.algorithm.ppo_epochs,
                    micro_batch_size=self.cfg.policy.micro_batch_size,
                    seed=_seed_of(self.cfg.seed, self.step, "ppo"),
                    device=self.device,
                )
            )
        self.rollout.sync(policy.module)
        self.samples_seen += batch.size * self.strategy.world_size
        stats.update({
            "batch/accuracy": float(batch.scores.mean()),
            "batch/response_length": float(mask.sum(dim=1).float().mean()),
            "reward/return_first_token": float(masked_mean(returns, mask)),
            "policy/lr": self.cfg.policy.lr,
            "samples_seen": self.samples_seen,
            "data/epoch": self.source.epoch,
        })  # fmt: skip

    def _average(self, stats: dict[str, float]) -> dict[str, float]:
        everyone = self.strategy.all_gather_object(stats)
        keys = sorted({k for s in everyone for k in s})
        out = {}
        for key in keys:
            values = [s[key] for s in everyone if key in s]
            out[key] = max(values) if key.endswith("_max") or key.startswith("time/") else sum(values) / len(values)
        return out

    # -- the run -----------------------------------------------------------------------------------------------
    def _save(self) -> None:
        start = time.perf_counter()
        state = {"data": self.source.state(), "samples_seen": self.samples_seen}
        folder = save_checkpoint(self.strategy, self.run_dir, self.step, self.engines, self.tokenizer, state)
        if self.evaluator is not None:
            self.evaluator.submit(self.step, str(folder))
            prune_checkpoints(self.run_dir, self.cfg.keep_checkpoints, protect=self.evaluator.pending_steps())
        elif self.strategy.is_main:
            prune_checkpoints(self.run_dir, self.cfg.keep_checkpoints, protect=set())
        self._print(f"saved {folder} ({time.perf_counter() - start:.1f}s)")

    def train(self) -> Path:
        """Run to ``max_steps`` (or the end of the data); returns the run folder."""
        cfg = self.cfg
        if self.evaluator is not None and cfg.eval.at_start and self.step == 0:
            self.evaluator.submit(0, cfg.model.policy)
        saved_at = self.step
        try:
            while self.step < cfg.max_steps:
                metrics = self.train_step()
                if metrics is None:
                    self._print(f"the training data is exhausted after {cfg.data.epochs} epoch(s)")
                    break
                if self.log is not None:
                    self.log.log(self.step, metrics)
                    self._print(
                        f"step {self.step}/{cfg.max_steps}: accuracy {metrics['rollout/accuracy']:.3f}, "
                        f"policy loss {metrics['policy/loss']:.4f}, {metrics['time/step']:.1f}s "
                        f"({metrics['time/step_cpu']:.1f}s CPU)"
                    )
                if self.step % cfg.save_every == 0 or self.step == cfg.max_steps:
                    self._save()
                    saved_at = self.step
                if self.evaluator is not None:
                    self.evaluator.poll()
            if saved_at != self.step:
                self._save()
            if self.evaluator is not None:
                self._print("waiting for checkpoint evaluations to finish")
                self.evaluator.finish()
        finally:
            self.verify.close()
            if self.log is not None:
                self.log.close()
        return self.run_dir
