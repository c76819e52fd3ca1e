"""The implicit PRM as a reward model: step rewards for ProcessBench-style evaluation, response scores for
Best-of-N (docs/reward-models.md; docs/algorithm.md §implicit-reward, §best-of-n).

A causal LM pi_phi and, optionally, a reference pi_ref (none: the "w/o ref" variant). Over the response's tokens,
``r_t = beta * (log pi_phi(y_t|y_<t) - log pi_ref(y_t|y_<t))`` and the implicit Q value is its running sum. The
token scores come from :mod:`.token_rewards`, the same code the PRIME trainer uses. A step's reward is Q at its
last token ("accumulative") or the difference from the previous step's Q ("single"); a response's score is the
``min``, ``sum``, ``last`` or ``mean`` of its step rewards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from ..device import DTYPES, resolve_device, resolve_dtype
from ..scoring import InputError
from .formatting import (
    FORMATS,
    PADDING_SIDES,
    Format,
    check_model_path,
    collate,
    encode,
    frame,
    length_batches,
    load_model,
    load_tokenizer,
    offsets_tokenizer,
    progress_bar,
    scoring_errors,
    uses_chat,
)
from .steps import AGGREGATES, STEP_REWARDS, Aggregate, StepReward, join_step_ends, split_step_ends

# Candidate fields read as the question when none is named: the bench's own --generate writes "question";
# MATH-style files call it "problem"; a harness samples file has the rendered "prompt".
QUESTION_FIELDS = ("question", "problem", "prompt")


@dataclass(frozen=True)
class ImplicitPRMSettings:
    """Everything that shapes the scores (all of it lands in ``bon.json`` through ``describe()``)."""

    model: str
    ref: str | None = None  # None: the "w/o ref" variant, r_t = beta * log pi_phi
    beta: float = 0.001  # the reference BoN scripts' "coef"; it scales every score alike, so BoN does not move
    step_separator: str = "\n\n"
    step_reward: StepReward = "accumulative"
    aggregate: Aggregate = "min"
    format: Format = "auto"  # auto: the chat template when the tokenizer has one, else plain concatenation
    question_field: str | None = None  # None: the first of QUESTION_FIELDS a candidate has
    batch_size: int = 8
    padding_side: str = "right"
    device: str = "auto"
    dtype: str = "auto"  # auto: bfloat16 on a GPU, float32 on CPU
    progress: bool = True

    def __post_init__(self) -> None:
        checks = [
            (self.step_reward in STEP_REWARDS, f"step reward must be one of {', '.join(STEP_REWARDS)}"),
            (self.aggregate in AGGREGATES, f"aggregate must be one of {', '.join(AGGREGATES)}"),
            (self.format in FORMATS, f"format must be one of {', '.join(FORMATS)}"),
            (self.padding_side in PADDING_SIDES, f"padding side must be one of {', '.join(PADDING_SIDES)}"),
            (self.dtype in DTYPES, f"dtype must be one of {', '.join(DTYPES)}"),
            (bool(self.step_separator), "the step separator must not be empty"),
            (self.batch_size >= 1, "batch size must be at least 1"),
            (self.beta > 0, "beta must be positive"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)


def candidate_questions(candidates: Sequence[Any], field: str | None) -> list[str]:
    """The question of each candidate, from ``field`` or the first of :data:`QUESTION_FIELDS` it has."""
    out, errors = [], []
    for c in candidates:
        row: Mapping[str, Any] = c.row
        name = field or next((f for f in QUESTION_FIELDS if isinstance(row.get(f), str)), None)
        value = row.get(name) if name else None
        if not isinstance(value, str):
            wanted = repr(field) if field else " or ".join(map(repr, QUESTION_FIELDS))
            errors.append(f"{c.where}: the reward model needs the question as a string in field {wanted}")
        out.append(value)
    if errors:
        more = f"\n... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise InputError("\n".join(errors[:10]) + more)
    return out


def template_fingerprint(tokenizer: Any, chat: bool) -> str | None:
    return hashlib.sha256(tokenizer.chat_template.encode()).hexdigest()[:16] if chat else None


class ImplicitPRM:
    """Implicit process reward model. ``ImplicitPRM(model, ref=None, **settings)``: paths or Hub ids; the other
    keyword arguments are the fields of :class:`ImplicitPRMSettings`.

    Tokenizers load (and model paths are checked) at construction, so a typo fails at once; the models load on
    first use, so that a caller can free the GPU (e.g. of a generation engine) before they do.
    """

    name = "implicit_prm"
    needs_labels: ClassVar[bool] = False

    def __init__(self, model: str, ref: str | None = None, **settings: Any):
        self.settings = s = ImplicitPRMSettings(model=model, ref=ref, **settings)
        self.tokenizer = load_tokenizer(s.model, "the implicit PRM")
        if s.ref is not None:
            _check_same_tokenizer(self.tokenizer, s.ref)
        self.chat = uses_chat(self.tokenizer, s.format)
        self._offsets = offsets_tokenizer(self.tokenizer)
        self.device = resolve_device(s.device)
        self.dtype = resolve_dtype(s.dtype, self.device)
        self._models: tuple[Any, Any] | None = None

    def describe(self) -> dict[str, Any]:
        s = self.settings
        ref = "log pi_ref(y_t|y_<t)" if s.ref is not None else "0 (w/o ref)"
        return {
            "name": self.name,
            **{k: v for k, v in asdict(s).items() if k not in ("ref", "progress")},
            "ref_model": s.ref,
            "variant": "w/ ref" if s.ref is not None else "w/o ref",
            "token_reward": f"beta * (log pi_phi(y_t|y_<t) - {ref})",
            "step_end": "the token holding the step's last character, its separator included; the last step ends "
            "at the end-of-turn token",
            "empty_steps": "a blank piece extends the step before it (leading ones join the first step)",
            "format": "chat template" if self.chat else "plain concatenation",
            "chat_template_sha256": template_fingerprint(self.tokenizer, self.chat),
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
        }

    # --- public scoring --------------------------------------------------------------------------------------

    def step_rewards(self, questions: list[str], step_lists: list[list[str]]) -> list[list[float]]:
        """One reward per given step (accumulative or single, per the settings), the steps joined by the
        separator into the response that is scored."""
        if len(questions) != len(step_lists):
            raise ValueError(f"{len(questions)} questions for {len(step_lists)} step lists")
        joined = [join_step_ends(steps, self.settings.step_separator) for steps in step_lists]
        return [values for values, _ in self._run(questions, [t for t, _ in joined], [e for _, e in joined])]

    def response_step_rewards(self, questions: list[str], responses: list[str]) -> list[tuple[list[float], float]]:
        """(step rewards, score) of each response, split into steps at the separator."""
        sep = self.settings.step_separator
        return self._run(questions, responses, [split_step_ends(r, sep) for r in responses])

    def score(self, candidates: list[Any]) -> list[float]:
        """The Best-of-N score of each candidate (``RewardModel`` protocol)."""
        questions = candidate_questions(candidates, self.settings.question_field)
        return [score for _, score in self.response_step_rewards(questions, [c.response for c in candidates])]

    # --- internals ---------------------------------------------------------------------------------------------

    def models(self) -> tuple[Any, Any]:
        """(pi_phi, pi_ref or None), loaded once."""
        if self._models is None:
            s = self.settings
            load = [(s.model, "the implicit PRM"), (s.ref, "the reference model")]
            quiet = not s.progress
            prm, ref = (
                None if p is None else load_model("causal", p, w, self.device, self.dtype, quiet=quiet)
                for p, w in load
            )
            self._models = (prm, ref)
        return self._models

    def _run(
        self, questions: Sequence[str], responses: Sequence[str], char_ends: Sequence[Sequence[int]]
    ) -> list[tuple[list[float], float]]:
        import torch

        from .steps import aggregate, step_values
        from .token_rewards import implicit_process_rewards, token_logprobs

        s = self.settings
        framed = [frame(self.tokenizer, q, r, self.chat) for q, r in zip(questions, responses)]
        items = encode(self._offsets, framed, char_ends, add_special_tokens=not self.chat)
        prm, ref = self.models()
        pad = _pad_id(self.tokenizer)
        out: list[tuple[list[float], float]] = [([], 0.0)] * len(items)
        bar = progress_bar(len(items), "implicit PRM", s.progress)
        with torch.inference_mode(), scoring_errors(s.batch_size):
            for idx in length_batches([len(e.ids) for e in items], s.batch_size):
                b = collate([items[i] for i in idx], pad, s.padding_side, self.device)
                logp = token_logprobs(prm, b["ids"], b["attention"])
                logp_ref = None if ref is None else token_logprobs(ref, b["ids"], b["attention"])
                q = implicit_process_rewards(logp, logp_ref, b["response"])
                values = step_values(q, b["ends"], b["valid"], s.beta, s.step_reward)
                scores = aggregate(values, b["valid"], s.aggregate).tolist()
                for row, i in enumerate(idx):
                    out[i] = (values[row, : len(items[i].step_ends)].tolist(), scores[row])
                bar.update(len(idx))
        bar.close()
        return out


def _pad_id(tokenizer: Any) -> int:
    # Padding is masked out, so any id will do; a real one keeps the embedding lookup in range.
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if candidate is not None:
            return int(candidate)
    return 0


def _check_same_tokenizer(tokenizer: Any, ref: str) -> None:
    """Token log-ratios compare the two models on one token sequence, so they must share a vocabulary. A
    reference folder without tokenizer files is taken to use the PRM's."""
    check_model_path(ref, "the reference model")
    try:
        ref_tok = load_tokenizer(ref, "the reference model")
    except InputError:
        return
    if ref_tok.get_vocab() != tokenizer.get_vocab():
        raise InputError(f"the reference model {ref!r} has another tokenizer than the PRM; both must share one")
