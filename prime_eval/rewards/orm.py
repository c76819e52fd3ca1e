"""An outcome reward model for the Best-of-N bench: ``AutoModelForSequenceClassification`` over the formatted
question + response (docs/reward-models.md).

The score is the head's logit when it has one label, and ``logit[1] - logit[0]`` when it has two (the log-odds
of class 1, "good", under the head's softmax, so a two-class head ranks exactly as its probability of class 1).
Other label counts are refused. The logit is read where the model's own forward reads it: Hugging Face's
``*ForSequenceClassification`` pools the last token that is not the pad token, as it did in training, and
padding either side leaves that token unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from ..device import DTYPES, resolve_device, resolve_dtype
from ..scoring import InputError
from .formatting import (
    FORMATS,
    PADDING_SIDES,
    Format,
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
from .implicit_prm import candidate_questions, template_fingerprint


@dataclass(frozen=True)
class ORMSettings:
    """Everything that shapes the scores (recorded in ``bon.json`` through ``describe()``)."""

    model: str
    format: Format = "auto"  # auto: the chat template when the tokenizer has one, else plain concatenation
    question_field: str | None = None
    batch_size: int = 8
    padding_side: str = "right"
    device: str = "auto"
    dtype: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise InputError(f"format must be one of {', '.join(FORMATS)}")
        if self.padding_side not in PADDING_SIDES:
            raise InputError(f"padding side must be one of {', '.join(PADDING_SIDES)}")
        if self.dtype not in DTYPES:
            raise InputError(f"dtype must be one of {', '.join(DTYPES)}")
        if self.batch_size < 1:
            raise InputError("batch size must be at least 1")


class ORM:
    """Outcome reward model. ``ORM(model, **settings)``; the keyword arguments are :class:`ORMSettings` fields.
    The tokenizer loads at construction, the model on first use (as :class:`.implicit_prm.ImplicitPRM`)."""

    name = "orm"
    needs_labels: ClassVar[bool] = False

    def __init__(self, model: str, **settings: Any):
        self.settings = s = ORMSettings(model=model, **settings)
        self.tokenizer = load_tokenizer(s.model, "the ORM")
        self.chat = uses_chat(self.tokenizer, s.format)
        self._offsets = offsets_tokenizer(self.tokenizer)
        self.device = resolve_device(s.device)
        self.dtype = resolve_dtype(s.dtype, self.device)
        self._model: Any = None

    def model(self) -> Any:
        if self._model is None:
            s = self.settings
            model = load_model("classifier", s.model, "the ORM", self.device, self.dtype, quiet=not s.progress)
            if model.config.num_labels not in (1, 2):
                raise InputError(f"the ORM's head has {model.config.num_labels} labels; 1 or 2 are supported")
            text_config = model.config.get_text_config()
            if text_config.pad_token_id is None:
                # Without a pad id the forward refuses batches; with the tokenizer's, it pools the last non-pad
                # token, which for an unpadded row is its last token, as a batch of one would read.
                text_config.pad_token_id = self.tokenizer.pad_token_id
                if text_config.pad_token_id is None:
                    raise InputError("the ORM has no pad token (neither its config nor its tokenizer names one)")
            self._model = model
        return self._model

    def describe(self) -> dict[str, Any]:
        labels = self.model().config.num_labels
        return {
            "name": self.name,
            **{k: v for k, v in asdict(self.settings).items() if k != "progress"},
            "num_labels": labels,
            "score": "the logit" if labels == 1 else "logit[1] - logit[0] (log-odds of class 1)",
            "pooling": "the model's own: its last token that is not the pad token",
            "format": "chat template" if self.chat else "plain concatenation",
            "chat_template_sha256": template_fingerprint(self.tokenizer, self.chat),
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
        }

    def score(self, candidates: list[Any]) -> list[float]:
        questions = candidate_questions(candidates, self.settings.question_field)
        return self.score_texts(questions, [c.response for c in candidates])

    def score_texts(self, questions: list[str], responses: list[str]) -> list[float]:
        import torch

        s = self.settings
        # The whole formatted conversation is read, end-of-turn marker and template tail included, as
        # ``apply_chat_template`` writes it for a reward model.
        framed = [frame(self.tokenizer, q, r, self.chat) for q, r in zip(questions, responses)]
        items = encode(self._offsets, framed, [[len(r)] for r in responses], add_special_tokens=not self.chat)
        model = self.model()
        pad = model.config.get_text_config().pad_token_id
        out = [0.0] * len(items)
        bar = progress_bar(len(items), "ORM", s.progress)
        with torch.inference_mode(), scoring_errors(s.batch_size):
            for idx in length_batches([len(e.ids) for e in items], s.batch_size):
                b = collate([items[i] for i in idx], pad, s.padding_side, self.device)
                positions = (b["attention"].cumsum(-1) - 1).clamp(min=0)  # left padding must not shift positions
                logits = model(input_ids=b["ids"], attention_mask=b["attention"], position_ids=positions).logits
                logits = logits.float()
                scores = logits[:, 0] if logits.shape[-1] == 1 else logits[:, 1] - logits[:, 0]
                for row, i in enumerate(idx):
                    out[i] = float(scores[row])
                bar.update(len(idx))
        bar.close()
        return out
