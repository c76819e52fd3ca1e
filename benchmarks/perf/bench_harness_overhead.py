"""The harness's own cost per sample: the five math benchmarks x 4 samples scored from a file.

Everything `prime-eval run --backend file` does except the verifier's work is counted as overhead: loading and
hashing the data, rendering prompts, reading the file, saving every generation and every scored sample (flushed
row by row so a killed run loses nothing), metrics and results. The verifier's own wall time (``verify_batch``) is
measured separately and left out, as the issue asks.

    python -m benchmarks.perf.bench_harness_overhead [--samples 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.loading import load_benchmark
from benchmarks.registry import get_benchmark, groups
from prime_common.jsonl import Appender
from prime_eval.run_config import build_config
from prime_eval.runner import run_eval
from prime_eval.verify import verify_batch
from prime_eval.verify.math import MathVerifier

PAPER_BENCHMARKS = groups()["paper_math"].benchmarks


def write_responses(path: Path, n: int) -> int:
    """Sample j of each problem: the gold in a box for even j, a wrong number for odd j."""
    rows = 0
    with Appender(path) as out:
        for name in PAPER_BENCHMARKS:
            for p in load_benchmark(get_benchmark(name)).problems:
                responses = [
                    f"Working through it step by step.\n\nThe final answer is $\\boxed{{{p.reference if j % 2 == 0 else -99991}}}$."
                    for j in range(n)
                ]
                out.write({"benchmark": name, "id": p.id, "responses": responses})
                rows += n
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        responses = Path(tmp) / "responses.jsonl"
        total_samples = write_responses(responses, args.samples)
        verify_batch(MathVerifier(), ["\\boxed{1}"], ["1"])  # start the verifier pool outside the timing
        config = build_config({
            "model": "file", "backend": "file", "benchmarks": "paper_math", "n": args.samples,
            "temperature": 0.6, "output": str(Path(tmp) / "run"), "backend_options": {"path": str(responses)},
        })  # fmt: skip
        start = time.perf_counter()
        results = run_eval(config, progress=False)
        total = time.perf_counter() - start
    verify = sum(b["timing"]["verify_s"] for b in results["benchmarks"].values())
    overhead = total - verify
    print(f"{total_samples} samples over {', '.join(PAPER_BENCHMARKS)}")
    print("| stage | seconds | ms per sample |")
    print("|---|---|---|")
    for label, seconds in (("whole run", total), ("verifier (verify_batch)", verify), ("harness overhead", overhead)):
        print(f"| {label} | {seconds:.2f} | {1000 * seconds / total_samples:.3f} |")
    for name, b in results["benchmarks"].items():
        t = b["timing"]
        print(f"  {name}: avg@{args.samples} {b['metrics']['avg']['mean']:.3f}, generate {t['generate_s']:.2f} s, "
              f"verify {t['verify_s']:.2f} s, metrics {t['metrics_s']:.3f} s")  # fmt: skip


if __name__ == "__main__":
    main()
