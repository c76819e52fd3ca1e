"""prime's math verifier and Math-Verify 0.9.0 on the labelled grader corpus (tests/data/grader_corpus.jsonl),
side by side: agreement with the careful-grader labels per category and per source, and every row either gets wrong.

prime runs as `prime-eval score` runs it (verify_batch: worker processes, each check time-bounded); Math-Verify
runs in-process with its defaults (the gold wrapped in a box, as benchmarks/perf/bench_math_verifier.py does).

    python -m benchmarks.perf.grader_corpus [--show 200] [--category prose]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from prime_common.jsonl import read_jsonl
from prime_eval.verify import Status, verify_batch
from prime_eval.verify.math import MathVerifier

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "data" / "grader_corpus.jsonl"
TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Outcome:
    """One tool's verdict on one row: ``correct`` as the tool says, ``status`` and what it read, for the listing."""

    correct: bool
    status: str
    read: str


def score_prime(rows: list[dict]) -> list[Outcome]:
    verdicts = verify_batch(
        MathVerifier(), [r["response"] for r in rows], [r["gold"] for r in rows], timeout_s=TIMEOUT_S, progress=False
    )
    return [
        Outcome(v.correct, v.status.value, str(v.details.get("extracted") or v.details.get("reason") or ""))
        for v in verdicts
    ]


def score_math_verify(rows: list[dict]) -> list[Outcome]:
    from math_verify import parse, verify

    out = []
    for r in rows:
        gold_text = r["gold"] if "\\boxed" in r["gold"] else f"\\boxed{{{r['gold']}}}"
        try:
            pred = parse(r["response"])
            ok = bool(verify(parse(gold_text), pred))
            out.append(Outcome(ok, Status.OK.value if ok else Status.WRONG.value, str(pred)))
        except Exception as exc:  # Math-Verify's own errors count as a wrong verdict, and are shown
            out.append(Outcome(False, Status.ERROR.value, f"{type(exc).__name__}: {exc}"))
    return out


def agreement_table(title: str, groups: dict[str, list[int]], rows, prime, mv) -> list[str]:
    lines = [
        f"| {title:<62} | rows | prime | Math-Verify | prime errors |",
        f"|{'-' * 64}|------|-------|-------------|--------------|",
    ]
    for name in sorted(groups):
        idx = groups[name]
        ours = sum(prime[i].correct == rows[i]["expected"] for i in idx)
        theirs = sum(mv[i].correct == rows[i]["expected"] for i in idx)
        errors = sum(prime[i].status in (Status.ERROR.value, Status.TIMEOUT.value) for i in idx)
        lines.append(
            f"| {name[:62]:<62} | {len(idx):4} | {100 * ours / len(idx):4.1f}% | {100 * theirs / len(idx):10.1f}% | "
            f"{errors:12} |"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--show", type=int, default=200, help="list at most this many disagreements")
    ap.add_argument("--category", default="", help="only rows of this category")
    args = ap.parse_args()
    rows = read_jsonl(CORPUS)
    if args.category:
        rows = [r for r in rows if r["category"] == args.category]
    prime, mv = score_prime(rows), score_math_verify(rows)

    by_category, by_source = defaultdict(list), defaultdict(list)
    for i, r in enumerate(rows):
        by_category[r["category"]].append(i)
        by_source[r["source"].split(" (")[0]].append(i)
    n = len(rows)
    ours = sum(p.correct == r["expected"] for p, r in zip(prime, rows))
    theirs = sum(m.correct == r["expected"] for m, r in zip(mv, rows))
    print(f"{n} rows ({sum(r['expected'] for r in rows)} expected correct), {CORPUS.name}")
    print(
        f"agreement with the labels: prime {ours}/{n} ({100 * ours / n:.1f}%), "
        f"Math-Verify {theirs}/{n} ({100 * theirs / n:.1f}%)\n"
    )
    print("\n".join(agreement_table("category", by_category, rows, prime, mv)) + "\n")
    print("\n".join(agreement_table("source", by_source, rows, prime, mv)) + "\n")

    misses = [i for i in range(n) if prime[i].correct != rows[i]["expected"] or mv[i].correct != rows[i]["expected"]]
    print(f"{len(misses)} rows either tool gets wrong (prime/mv: ok = agrees with the label):")
    for i in misses[: args.show]:
        r, p, m = rows[i], prime[i], mv[i]
        mark = (
            ("ok" if p.correct == r["expected"] else "MISS") + "/" + ("ok" if m.correct == r["expected"] else "MISS")
        )
        print(
            f"- {mark} [{r['category']}] expected={r['expected']} prime={p.status} read {p.read[:60]!r} | "
            f"mv read {m.read[:60]!r} | gold {r['gold'][:60]!r} | response {r['response'][-80:]!r}"
        )


if __name__ == "__main__":
    main()
