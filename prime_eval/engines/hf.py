"""transformers engine: batched ``model.generate`` on any causal LM module (a loaded checkpoint for evaluation, the
live policy for rollouts).

Reproducibility: every token is picked by our own logits processor (``_Picker``): the argmax when greedy, else a
draw from a ``torch.Generator`` per row seeded with the row's seed, never from the global RNG. A row's tokens are
therefore the same whichever other rows share its batch, so a resumed run that asks only for the missing samples gets
what the full run would have produced, and the trainer's rollouts are a function of their seeds. The one caveat:
padding and batch size change the float rounding of the batched matmuls, which on a real model can flip a near-tie
now and then; on CPU in float32 this is rare, in bf16 on a GPU less so (the same holds for vLLM, cf. lm-eval #1645).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from prime_eval.backends._deps import import_optional
from prime_eval.backends.base import BackendError, OnTokens
from prime_eval.engines.base import Decoding, Generated, Row, eos_token_ids

torch = import_optional("torch", "hf", "hf")
transformers = import_optional("transformers", "hf", "hf")

# generation_config.json entries that are identity or plumbing, not decoding choices.
_NOT_SAMPLING_KNOBS = {"bos_token_id", "eos_token_id", "pad_token_id", "transformers_version", "use_cache",
                       "output_attentions", "output_hidden_states"}  # fmt: skip


class _Picker(transformers.LogitsProcessor):
    """Picks each row's next token and returns scores whose argmax is that token: ``generate`` runs in greedy mode
    and takes the argmax, so the whole draw (temperature, top-p, the uniform number) is ours. With ``record``, it
    keeps each step's log-probs of the picked tokens under the model's own distribution (temperature 1)."""

    def __init__(self, generators: list[Any] | None, temperature: float, top_p: float, record: bool = False):
        self.generators = generators  # None: greedy
        self.temperature = temperature
        self.top_p = top_p
        self.record = record
        self.steps: list[Any] = []

    def __call__(self, input_ids, scores):
        tokens = scores.argmax(-1, keepdim=True) if self.generators is None else self._draw(scores)
        if self.record:
            self.steps.append(torch.log_softmax(scores.float(), dim=-1).gather(-1, tokens)[:, 0])
        forced = torch.full_like(scores, float("-inf"))
        return forced.scatter_(-1, tokens, 0.0)

    def _draw(self, scores):
        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        sorted_probs, order = probs.sort(dim=-1, descending=True, stable=True)
        if self.top_p < 1:
            # Nucleus: keep the smallest prefix whose mass reaches top_p (the first token is always kept). Skipped at
            # top_p == 1, where rounding in the cumulative sum could otherwise drop the far tail.
            keep = (sorted_probs.cumsum(-1) - sorted_probs) < self.top_p
            sorted_probs = sorted_probs * keep
        cdf = sorted_probs.cumsum(-1)
        u = torch.cat([torch.rand(1, generator=g, device=g.device) for g in self.generators]).to(scores.device)
        pick = torch.searchsorted(cdf, (u * cdf[:, -1]).unsqueeze(-1)).clamp_(max=cdf.shape[-1] - 1)
        return order.gather(-1, pick)


class _StopOnStrings(transformers.StoppingCriteria):
    """Per-row stop when the decoded tail of the generated tokens contains a stop string.

    Decoding a short tail (one token per character of the longest stop string, plus one) works for any tokenizer,
    unlike matching the vocabulary's token strings.
    """

    def __init__(self, tokenizer: Any, stops: Sequence[str], prompt_width: int):
        self.tokenizer = tokenizer
        self.stops = tuple(stops)
        self.prompt_width = prompt_width
        self.tail = max(len(s) for s in stops) + 1

    def __call__(self, input_ids, scores, **kwargs):
        start = max(self.prompt_width, input_ids.shape[1] - self.tail)
        tails = self.tokenizer.batch_decode(input_ids[:, start:], skip_special_tokens=True)
        return torch.tensor([any(s in t for s in self.stops) for t in tails], device=input_ids.device)


class _ReportTokens(transformers.StoppingCriteria):
    """Never stops anything: after each decoding step it reports the tokens that step added (one per row that has
    not ended), so a progress bar moves during a long batch rather than only when the whole batch returns."""

    def __init__(self, on_tokens: OnTokens, eos_ids: list[int], prompt_width: int):
        self.on_tokens = on_tokens
        self.eos_ids = eos_ids
        self.prompt_width = prompt_width

    def __call__(self, input_ids, scores, **kwargs):
        generated = input_ids[:, self.prompt_width :]
        ended = torch.isin(generated[:, :-1], torch.tensor(self.eos_ids, device=input_ids.device)).any(dim=1)
        self.on_tokens(int((~ended).sum()))
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


class HFEngine:
    """``generate`` on ``model`` (any ``transformers`` causal LM), ``batch_size`` rows at a time."""

    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 8):
        if batch_size < 1:
            raise BackendError("batch_size must be at least 1")
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.eos_ids = eos_token_ids(model.generation_config, tokenizer)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_ids[0]
        # The checkpoint's generation_config.json may suggest decoding knobs (temperature, repetition penalty...)
        # that generate() would silently apply, in evaluation and in rollouts alike; the Decoding must be the whole
        # truth, so generate() runs with a config holding only the special-token ids, and what it drops is kept.
        suggested = model.generation_config.to_diff_dict()
        self.ignored_generation_defaults = {
            k: v for k, v in suggested.items() if k not in _NOT_SAMPLING_KNOBS and not k.startswith("_")
        }
        self._plain_config = transformers.GenerationConfig(
            bos_token_id=tokenizer.bos_token_id, eos_token_id=self.eos_ids, pad_token_id=self.pad_id
        )

    def context_length(self) -> int | None:
        """The model's position limit (``max_position_embeddings`` or its other names), else the tokenizer's."""
        for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            value = getattr(self.model.config, key, None)
            if isinstance(value, int) and value > 0:
                return value
        value = getattr(self.tokenizer, "model_max_length", None)
        # transformers puts a huge sentinel there when the tokenizer does not know.
        return value if isinstance(value, int) and 0 < value < 10**7 else None

    def generate(
        self, rows: Sequence[Row], decoding: Decoding, on_tokens: OnTokens | None = None
    ) -> Iterator[list[tuple[int, Generated]]]:
        # Rows in batches of one limit and similar length (less padding; results do not depend on the order). A
        # row cut by the context has a limit of its own (the room its prompt leaves), so it shares a batch only with
        # rows that stop at the same step: the context cuts it at the same token whichever rows share its batch.
        order = sorted(range(len(rows)), key=lambda i: (-rows[i].max_tokens, len(rows[i].prompt)))
        for _, same in itertools.groupby(order, key=lambda i: rows[i].max_tokens):
            same = list(same)
            for start in range(0, len(same), self.batch_size):
                batch = same[start : start + self.batch_size]
                yield list(zip(batch, self._generate_batch([rows[i] for i in batch], decoding, on_tokens)))

    def _generate_batch(self, batch: list[Row], decoding: Decoding, on_tokens: OnTokens | None) -> list[Generated]:
        device = next(self.model.parameters()).device
        width = max(len(r.prompt) for r in batch)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for i, row in enumerate(batch):  # left padding: every row's next token is at the same position
            input_ids[i, width - len(row.prompt) :] = torch.tensor(row.prompt)
            attention[i, width - len(row.prompt) :] = 1
        generators = None
        if decoding.temperature > 0:
            generators = [torch.Generator(device=device).manual_seed(r.seed) for r in batch]
        picker = _Picker(generators, decoding.temperature, decoding.top_p, decoding.logprobs)
        criteria = transformers.StoppingCriteriaList()
        if decoding.stop:
            criteria.append(_StopOnStrings(self.tokenizer, decoding.stop, width))
        if on_tokens is not None:
            criteria.append(_ReportTokens(on_tokens, self.eos_ids, width))
        config = transformers.GenerationConfig(
            max_new_tokens=batch[0].max_tokens, do_sample=False, eos_token_id=self.eos_ids, pad_token_id=self.pad_id
        )
        # generate() fills what a config leaves unset from the model's own generation_config: swap in the plain one.
        model_config, self.model.generation_config = self.model.generation_config, self._plain_config
        try:
            with torch.inference_mode():
                out = self.model.generate(
                    input_ids=input_ids.to(device),
                    attention_mask=attention.to(device),
                    generation_config=config,
                    logits_processor=transformers.LogitsProcessorList([picker]),
                    stopping_criteria=criteria,
                )
        except torch.cuda.OutOfMemoryError as exc:
            raise BackendError(f"out of GPU memory with batch_size={self.batch_size}; lower it") from exc
        finally:
            self.model.generation_config = model_config
        logprobs = torch.stack(picker.steps, dim=1).tolist() if picker.steps else [None] * len(batch)
        return [self._result(t, decoding, lp) for t, lp in zip(out[:, width:].tolist(), logprobs)]

    def _result(self, tokens: list[int], decoding: Decoding, logprobs: list[float] | None) -> Generated:
        """One row's tokens, cut where it ended (rows that end early are padded after)."""
        eos = next((i for i, t in enumerate(tokens) if t in self.eos_ids), None)
        body = tokens if eos is None else tokens[:eos]
        if decoding.stop and any(s in self.tokenizer.decode(body, skip_special_tokens=True) for s in decoding.stop):
            # Generation stopped at the token completing the stop string; what follows is padding (which may be the
            # eos id, hence the check before the eos case).
            count = len(body)
            while count and body[count - 1] == self.pad_id:
                count -= 1
            ids, finish = body[:count], "stop"
        elif eos is not None:
            ids, finish = tokens[: eos + 1], "eos"
        else:
            ids, finish = tokens, "length"
        return Generated(ids, finish, None if logprobs is None else logprobs[: len(ids)])
