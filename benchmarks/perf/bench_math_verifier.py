"""prime's math verifier against plain Math-Verify, side by side in one process, on the same pairs.

Pairs come from the local benchmark files, read through the benchmark registry: every reference solution as a response (a boxed gold sentence is
appended where a solution has no box, e.g. AMC rows have no solution at all), plus one wrong variant of each
(an integer gold + 1, else another row's gold). Both tools warm up on the first pairs; prime's caches are then
cleared so the measured pass pays for every prediction it parses.

    pip install 'math-verify[antlr4_13_2]==0.9.0'   # the dev extra has it
    python -m benchmarks.perf.bench_math_verifier [--only math500] [--limit N] [--show 40]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.boxes import find_boxes
from benchmarks.loading import load_benchmark
from benchmarks.registry import get_benchmark
from prime_common.jsonl import read_jsonl
from prime_eval.verify import latex_expr, math, symbolic, verify_batch
from prime_eval.verify.math import MathVerifier

_INT = re.compile(r"^-?\d+(?:\.0+)?$")
LABELLED = Path(__file__).resolve().parents[2] / "tests" / "data" / "math_equivalence.jsonl"


@dataclass
class Pair:
    benchmark: str
    response: str
    gold: str
    label: bool


MATH_BENCHMARKS = ("aime24", "aime24_qwen", "amc", "amc23", "math500", "minerva_math", "olympiadbench")


def build_pairs(names: list[str] | None = None) -> list[Pair]:
    pairs = []
    for name in names or MATH_BENCHMARKS:
        problems = [p for p in load_benchmark(get_benchmark(name)).problems if p.reference]
        golds = [str(p.reference) for p in problems]
        for k, (p, gold) in enumerate(zip(problems, golds)):
            solution = p.meta.get("solution") or "We compute it step by step."
            if not find_boxes(solution):
                solution += f"\n\nThe final answer is $\\boxed{{{gold}}}$."
            pairs.append(Pair(name, solution, gold, True))
            wrong = _wrong_answer(gold, golds, k)
            box = find_boxes(solution)[-1]
            pairs.append(Pair(name, solution[: box[0]] + f"\\boxed{{{wrong}}}" + solution[box[1] :], gold, False))
    return pairs


def _wrong_answer(gold: str, golds: list[str], k: int) -> str:
    if _INT.match(gold.strip()):
        return str(int(float(gold)) + 1)
    for step in range(1, len(golds)):
        other = golds[(k + step) % len(golds)]
        if other.replace(" ", "") != gold.replace(" ", ""):
            return other
    return gold + "+1"


def _clear_prime_caches() -> None:
    math.prepare.cache_clear()
    latex_expr.compile_latex.cache_clear()
    symbolic.to_sympy.cache_clear()


def run_prime(pairs: list[Pair]) -> tuple[list, list[float], float]:
    verifier = MathVerifier()
    out, lat = [], []
    cpu0 = time.process_time()
    for p in pairs:
        t = time.perf_counter()
        out.append(verifier.verify(p.response, p.gold))
        lat.append(time.perf_counter() - t)
    return out, lat, time.process_time() - cpu0


def run_math_verify(pairs: list[Pair]) -> tuple[list, list[float], float]:
    from math_verify import parse, verify

    out, lat = [], []
    cpu0 = time.process_time()
    for p in pairs:
        t = time.perf_counter()
        gold = parse(f"\\boxed{{{p.gold}}}")
        pred = parse(p.response)
        out.append((verify(gold, pred), gold, pred))
        lat.append(time.perf_counter() - t)
    return out, lat, time.process_time() - cpu0


def _pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=1000)[int(q * 1000) - 1] if len(xs) > 1 else xs[0]


def labelled_agreement() -> tuple[int, int, int, list[str]] | None:
    """(rows, prime right, Math-Verify right, one line per row either gets wrong) on the labelled regression set
    of bare answer pairs (tests/data/math_equivalence.jsonl)."""
    if not LABELLED.exists():
        return None
    from math_verify import parse, verify

    rows = read_jsonl(LABELLED)
    verifier = MathVerifier()
    prime_right = mv_right = 0
    misses = []
    for r in rows:
        try:
            ours = verifier.equivalent(r["gold"], r["pred"])
        except Exception:
            ours = False
        theirs = verify(parse(f"${r['gold']}$"), parse(f"${r['pred']}$"))
        prime_right += ours == r["expected"]
        mv_right += theirs == r["expected"]
        if ours != r["expected"] or theirs != r["expected"]:
            misses.append(
                f"- [{r['category']}] expected={r['expected']} prime={ours} mv={theirs} | "
                f"{r['gold']!r} vs {r['pred']!r} | {r['why']}"
            )
    return len(rows), prime_right, mv_right, misses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=0, help="use only the first N pairs")
    ap.add_argument("--show", type=int, default=1000, help="print at most this many disagreements")
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(MATH_BENCHMARKS)}")
    args = ap.parse_args()
    pairs = build_pairs(args.only.split(",") if args.only else None)
    if args.limit:
        pairs = pairs[: args.limit]
    run_prime(pairs[: args.warmup])
    run_math_verify(pairs[: args.warmup])
    _clear_prime_caches()
    ours, our_lat, our_cpu = run_prime(pairs)
    theirs, their_lat, their_cpu = run_math_verify(pairs)
    verify_batch(MathVerifier(), [p.response for p in pairs[:50]], [p.gold for p in pairs[:50]], progress=False)
    t = time.perf_counter()  # the pool is warm: workers started, modules imported
    batch = verify_batch(MathVerifier(), [p.response for p in pairs], [p.gold for p in pairs], progress=False)
    batch_wall = time.perf_counter() - t
    assert [v.correct for v in batch] == [v.correct for v in ours], "verify_batch disagrees with in-process verify"

    n = len(pairs)
    print(f"{n} pairs ({sum(p.label for p in pairs)} correct by construction), {os.cpu_count()} cores\n")
    print(f"| {'tool':<28} | pairs/s per core | CPU ms/pair | p50 ms | p99 ms | max ms | label agreement |")
    print(f"|{'-' * 30}|------------------|-------------|--------|--------|--------|-----------------|")
    for name, res, lat, cpu in (
        ("prime (in-process)", [v.correct for v in ours], our_lat, our_cpu),
        ("math-verify 0.9.0", [r[0] for r in theirs], their_lat, their_cpu),
    ):
        agree = sum(r == p.label for r, p in zip(res, pairs))
        print(
            f"| {name:<28} | {n / cpu:16.0f} | {1000 * cpu / n:11.3f} | {1000 * statistics.median(lat):6.2f} | "
            f"{1000 * _pct(lat, 0.99):6.2f} | {1000 * max(lat):6.1f} | {agree}/{n} ({100 * agree / n:.1f}%) |"
        )
    print(f"\nthroughput ratio (CPU per pair): prime is {their_cpu / our_cpu:.1f}x Math-Verify")
    print(f"prime verify_batch, {os.cpu_count()} workers, kill-bounded: {n / batch_wall:.0f} pairs/s wall")
    labelled = labelled_agreement()
    if labelled:
        rows, ok_ours, ok_theirs, misses = labelled
        print(f"labelled set ({LABELLED.name}): prime {ok_ours}/{rows}, math-verify {ok_theirs}/{rows}")

    disagreements = [(p, o, t) for p, o, t in zip(pairs, ours, theirs) if o.correct != t[0]]
    print(f"\n{len(disagreements)} disagreements (label = by construction):")
    for p, o, t in disagreements[: args.show]:
        d = o.details
        print(
            f"- [{p.benchmark}] label={p.label} prime={o.correct} ({o.status.value}, {d.get('method') or d.get('reason')}) "
            f"mv={t[0]} | gold {p.gold!r} | prime read {d.get('normalized')!r} | mv read {t[2]!r} (gold {t[1]!r})"
        )
    if labelled:
        print(f"\n{len(labelled[3])} labelled rows that either tool gets wrong:")
        print("\n".join(labelled[3][: args.show]))


if __name__ == "__main__":
    main()
