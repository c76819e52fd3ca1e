"""transformers backend: batched ``model.generate`` on one device, for CPU tests, small models and checks without vLLM.

Reproducibility: sampled tokens come from a ``torch.Generator`` per row seeded with ``sampling.seed + j``, drawn by
our own logits processor (``_SeededSampler``), never from the global RNG. Sample ``j`` of a prompt is therefore the
same whichever other prompts or sample indices share its batch, so a resumed run that asks only for the missing
indices gets the texts the full run would have produced. The one caveat: padding and batch size change the float
rounding of the batched matmuls, which on a real model can flip a near-tie (greedy or sampled) now and then; on CPU
in float32 this is rare, in bf16 on a GPU less so (the same holds for vLLM, cf. lm-eval #1645). ``describe()``
records ``batch_size`` for that reason.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prime_eval.backends._deps import import_optional
from prime_eval.backends.base import (
    BackendError,
    Completion,
    OnCompletion,
    OnTokens,
    Request,
    SamplingConfig,
    prompt_token_ids,
    sample_groups,
)

torch = import_optional("torch", "hf", "hf")
transformers = import_optional("transformers", "hf", "hf")

# generation_config.json entries that are identity or plumbing, not decoding choices.
_NOT_SAMPLING_KNOBS = {
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "transformers_version",
    "use_cache",
    "output_attentions",
    "output_hidden_states",
}
_DTYPES = {"bfloat16": "bfloat16", "bf16": "bfloat16", "float16": "float16", "fp16": "float16", "float32": "float32"}


@dataclass(frozen=True)
class _Row:
    """One generation: a prompt and the sample indices its text is used for (several when decoding is greedy)."""

    request: Request
    samples: tuple[int, ...]
    seed: int | None  # None: greedy
    ids: list[int]


class _SeededSampler(transformers.LogitsProcessor):
    """Samples each row with its own generator and returns scores whose argmax is that sample.

    ``generate`` runs in greedy mode and takes the argmax, so the whole draw (temperature, top-p, the uniform number)
    is ours and the global RNG, shared by all rows, is never used.
    """

    def __init__(self, generators: list[Any], temperature: float, top_p: float):
        self.generators = generators
        self.temperature = temperature
        self.top_p = top_p

    def __call__(self, input_ids, scores):
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
        tokens = order.gather(-1, pick)
        forced = torch.full_like(scores, float("-inf"))
        return forced.scatter_(-1, tokens, 0.0)


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


class HFBackend:
    name = "hf"

    def __init__(
        self,
        model: str,
        *,
        revision: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
        trust_remote_code: bool = False,
    ):
        if batch_size < 1:
            raise BackendError("batch_size must be at least 1")
        self.model_name = model
        self.revision = revision
        self.batch_size = batch_size
        self.device = _resolve_device(device)
        self.dtype = _resolve_dtype(dtype, self.device)
        load = {"revision": revision, "trust_remote_code": trust_remote_code}
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(model, **load)
            dtype_key = "dtype" if _transformers_at_least("4.56") else "torch_dtype"
            self.model = transformers.AutoModelForCausalLM.from_pretrained(
                model, **load, **{dtype_key: getattr(torch, self.dtype)}
            )
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot load model {model!r} (revision {revision}): {exc}") from exc
        self.model.to(self.device).eval()
        # Identity of the weights, kept now so describe() works after close(): the Hub commit when loaded from the
        # Hub, a sampled hash of the files for a local directory.
        self.commit = getattr(self.model.config, "_commit_hash", None)
        self.weights_fingerprint = _weights_fingerprint(model)
        self.eos_ids = _eos_ids(self.model.generation_config, self.tokenizer)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_ids[0]
        # The checkpoint's generation_config.json may suggest sampling knobs (temperature, top_k, repetition
        # penalty...) that generate() would silently apply; SamplingConfig must be the whole truth, so keep only the
        # special-token ids and record what was dropped.
        suggested = self.model.generation_config.to_diff_dict()
        self.ignored_generation_defaults = {
            k: v for k, v in suggested.items() if k not in _NOT_SAMPLING_KNOBS and not k.startswith("_")
        }
        self.model.generation_config = transformers.GenerationConfig(
            bos_token_id=self.tokenizer.bos_token_id, eos_token_id=self.eos_ids, pad_token_id=self.pad_id
        )

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model_name,
            "revision": self.revision,
            "commit": self.commit,
            "weights_fingerprint": self.weights_fingerprint,
            "dtype": self.dtype,
            "device": str(self.device),
            "batch_size": self.batch_size,
            "ignored_generation_defaults": self.ignored_generation_defaults,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        }

    def context_length(self) -> int | None:
        """The model's position limit (``max_position_embeddings`` or its other names), else the tokenizer's."""
        config = self.model.config if self.model is not None else None
        for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            value = getattr(config, key, None)
            if isinstance(value, int) and value > 0:
                return value
        value = getattr(self.tokenizer, "model_max_length", None)
        # transformers puts a huge sentinel there when the tokenizer does not know.
        return value if isinstance(value, int) and 0 < value < 10**7 else None

    def generate(
        self,
        requests: Sequence[Request],
        sampling: SamplingConfig,
        on_completion: OnCompletion,
        on_tokens: OnTokens | None = None,
    ) -> None:
        rows: list[_Row] = []
        for request in requests:
            groups = sample_groups(request, sampling)
            if not groups:
                continue
            ids = self._encode(request)
            greedy = sampling.temperature == 0
            rows.extend(_Row(request, g, None if greedy else sampling.seed + g[0], ids) for g in groups)
        for batch in self._batches(rows, sampling.max_tokens):
            if len(batch[0].ids) >= (self.context_length() or math.inf):  # no room left for a single token
                for row in batch:
                    for j in row.samples:
                        on_completion(row.request, Completion(j, "", "length", 0, 0.0))
                continue
            t0 = time.perf_counter()
            results = self._generate_batch(batch, sampling, on_tokens)
            seconds = time.perf_counter() - t0
            for row, (text, finish, tokens) in zip(batch, results):
                for j in row.samples:
                    on_completion(row.request, Completion(j, text, finish, tokens, seconds))

    def close(self) -> None:
        self.model = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _encode(self, request: Request) -> list[int]:
        try:
            return prompt_token_ids(self.tokenizer, request.prompt)
        except ValueError as exc:
            raise BackendError(f"{self.model_name!r}, prompt of {request.key!r}: {exc}") from None

    def _batches(self, rows: list[_Row], max_tokens: int) -> list[list[_Row]]:
        """Rows in batches of similar length (less padding; results do not depend on the order, see the module
        docstring). A row whose prompt leaves less than ``max_tokens`` of the context is batched only with prompts
        of its own length, so that the context cuts it at the same token whichever rows share its batch."""
        context = self.context_length()

        def group(r: _Row) -> int:
            return -1 if context is None or len(r.ids) + max_tokens <= context else len(r.ids)

        rows = sorted(rows, key=lambda r: len(r.ids))
        batches = []
        for _, same in itertools.groupby(rows, key=group):
            same = list(same)
            batches += [same[i : i + self.batch_size] for i in range(0, len(same), self.batch_size)]
        return batches

    def _room(self, batch: list[_Row], sampling: SamplingConfig) -> int:
        """New tokens this batch may generate: the requested limit, within the model's context after the prompt."""
        context = self.context_length()
        width = max(len(r.ids) for r in batch)
        return sampling.max_tokens if context is None else min(sampling.max_tokens, context - width)

    def _generate_batch(
        self, batch: list[_Row], sampling: SamplingConfig, on_tokens: OnTokens | None = None
    ) -> list[tuple[str, str, int]]:
        width = max(len(r.ids) for r in batch)
        room = self._room(batch, sampling)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for i, row in enumerate(batch):  # left padding: every row's next token is at the same position
            input_ids[i, width - len(row.ids) :] = torch.tensor(row.ids)
            attention[i, width - len(row.ids) :] = 1
        processors = transformers.LogitsProcessorList()
        if sampling.temperature > 0:
            gens = [torch.Generator(device=self.device).manual_seed(r.seed) for r in batch]
            processors.append(_SeededSampler(gens, sampling.temperature, sampling.top_p))
        criteria = transformers.StoppingCriteriaList()
        if sampling.stop:
            criteria.append(_StopOnStrings(self.tokenizer, sampling.stop, width))
        if on_tokens is not None:
            criteria.append(_ReportTokens(on_tokens, self.eos_ids, width))
        config = transformers.GenerationConfig(
            max_new_tokens=room, do_sample=False, eos_token_id=self.eos_ids, pad_token_id=self.pad_id
        )
        try:
            with torch.inference_mode():
                out = self.model.generate(
                    input_ids=input_ids.to(self.device),
                    attention_mask=attention.to(self.device),
                    generation_config=config,
                    logits_processor=processors,
                    stopping_criteria=criteria,
                )
        except torch.cuda.OutOfMemoryError as exc:
            raise BackendError(f"out of GPU memory with batch_size={self.batch_size}; lower it") from exc
        return [self._finish(tokens, sampling) for tokens in out[:, width:].tolist()]

    def _finish(self, tokens: list[int], sampling: SamplingConfig) -> tuple[str, str, int]:
        """Text, finish reason and generated-token count of one row (rows that stop early are padded after)."""
        eos = next((i for i, t in enumerate(tokens) if t in self.eos_ids), None)
        body = tokens if eos is None else tokens[:eos]
        text = self.tokenizer.decode(body, skip_special_tokens=True)
        cuts = [i for i in (text.find(s) for s in sampling.stop) if i >= 0]
        if cuts:
            # Generation stopped at the token completing the stop string; what follows is padding (which may be
            # the eos id, hence the check before the eos case).
            count = len(body)
            while count and body[count - 1] == self.pad_id:
                count -= 1
            return text[: min(cuts)], "stop", count
        if eos is not None:
            return text, "stop", eos + 1
        return text, "length", len(tokens)


def _resolve_device(device: str):
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendError(f"device={device!r} but torch sees no CUDA GPU (torch {torch.__version__})")
    return torch.device(device)


def _resolve_dtype(dtype: str, device) -> str:
    if dtype == "auto":
        if device.type != "cuda":
            return "float32"  # bf16 matmuls on CPU are slow and lossy; tests want exact, repeatable numbers
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if dtype not in _DTYPES:
        raise BackendError(f"unknown dtype {dtype!r}; choose auto, bfloat16, float16 or float32")
    return _DTYPES[dtype]


def _eos_ids(generation_config: Any, tokenizer: Any) -> list[int]:
    # Chat models often end turns with a token other than the tokenizer's eos (Qwen: <|im_end|> and <|endoftext|>),
    # listed in the checkpoint's generation config.
    ids = generation_config.eos_token_id
    ids = [] if ids is None else [ids] if isinstance(ids, int) else list(ids)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    if not ids:
        raise BackendError("the model defines no end-of-sequence token")
    return ids


def _transformers_at_least(version: str) -> bool:
    from packaging.version import Version  # a dependency of transformers

    return Version(transformers.__version__) >= Version(version)


def _weights_fingerprint(model: str) -> str | None:
    """sha256 over config.json and, per weight file, its name, size and three 1 MiB chunks (start, middle, end).

    Hashing whole checkpoints takes minutes; the sampled chunks tell two checkpoints of the same architecture (e.g.
    training steps 100 and 200) apart in practice. None for Hub ids (their commit hash is recorded instead).
    """
    root = Path(model)
    if not root.is_dir():
        return None
    digest = hashlib.sha256()
    weights = sorted(
        p for p in root.iterdir() if p.suffix in {".safetensors", ".bin", ".pt"} or p.name == "config.json"
    )
    for path in weights:
        size = path.stat().st_size
        digest.update(f"{path.name}:{size}".encode())
        with path.open("rb") as f:
            for offset in sorted({0, max(0, size // 2 - 2**19), max(0, size - 2**20)}):
                f.seek(offset)
                digest.update(f.read(2**20))
    return digest.hexdigest()
