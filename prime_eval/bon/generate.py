"""``prime-eval bon --generate``: draw the candidate pools through the evaluation harness, then bench them.

Generation is the harness's own (``prime_eval.runner``): the same benchmark registry, prompts, backends, seeds
and resumable ``generations/<benchmark>.jsonl`` under ``DIR/generation/`` (a rerun of the same command generates
only what is missing; changed settings are refused). The pools are then written to ``DIR/pool.jsonl``, one
candidate per sample, with the raw question for the reward model.

A pool is every sample drawn. ImplicitPRM's reference BoN script instead keeps, per problem, the n samples with
the highest generation log-probability (``split_query``), which biases the pool toward the generator's most
confident samples and makes bon@n a function of that ordering; nothing like it happens here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prime_common.jsonl import json_line, write_atomic

from ..run_config import RunConfig
from ..scoring import InputError

POOL_FILE = "pool.jsonl"
GENERATION_DIR = "generation"


def generate_pool(config: RunConfig, output: Path, *, progress: bool = True) -> tuple[Path, dict[str, Any]]:
    """Generate (or resume) ``config.n`` samples per problem; returns the pool file and what produced it (for
    ``bon.json``). ``config.output`` must be ``output / GENERATION_DIR``."""
    from benchmarks.loading import load_benchmark
    from benchmarks.registry import parse_benchmark_list

    from ..runner import generate, open_run

    definitions = parse_benchmark_list(config.benchmarks, config.include_path)
    # The bench labels candidates against a gold answer read back from JSONL; code tests are not such a value.
    code = [d.name for d in definitions if d.verifier != "math"]
    if code:
        raise InputError(f"--generate supports math benchmarks; {', '.join(code)} are code benchmarks")
    data_dir = Path(config.data_dir) if config.data_dir else None
    loaded = [load_benchmark(d, data_dir=data_dir, source=config.data_source, limit=config.limit) for d in definitions]
    gen_dir = Path(config.output)
    backend = open_run(gen_dir, config)
    rows = []
    try:
        plans = generate(loaded, config, backend, gen_dir, progress)
        for lb in loaded:
            generated = plans[lb.definition.name]["generated"]
            for p in lb.problems:
                for j in range(config.n):
                    g = generated[(p.id, j)]
                    rows.append({"benchmark": lb.definition.name, "problem_id": p.id, "sample": j,
                                 "question": p.question, "gold": p.reference, "response": g["response"],
                                 "finish_reason": g.get("finish_reason"), "tokens": g.get("tokens")})  # fmt: skip
        model = backend.describe()
    finally:
        backend.close()  # frees a GPU engine before the reward model loads
    pool = Path(output) / POOL_FILE
    write_atomic(pool, "".join(json_line(r) for r in rows))
    info = {
        "pool": str(pool),
        "config": config.to_dict(),
        "model": model,
        "data": {lb.definition.name: lb.source for lb in loaded},
        "selection": "every sample drawn (no log-prob-based subset)",
    }
    return pool, info
