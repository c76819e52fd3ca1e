"""``prime-eval report``: the command line (registered by ``prime_eval.cli``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from prime_common.jsonl import OutputError, json_document, write_atomic

from .runs import ReportError


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "runs", nargs="+", type=Path, metavar="RUN",
        help="run folders (prime-eval run output, or a training run with eval/step-N/), results.json files, or "
             "lm-evaluation-harness results_*.json files (or their folders)",
    )  # fmt: skip
    parser.add_argument("--output", required=True, type=Path, help="folder for report.md, report.json, report.html")
    parser.add_argument(
        "--references", nargs="+", default=None, metavar="NAME",
        help="published scores to show: a set (eurus2, eurus2_readme, eurus2_avg16), SET:MODEL, or none "
             "(default: eurus2, the paper's Table 1)",
    )  # fmt: skip
    parser.add_argument(
        "--compare", action="store_true",
        help="exactly two runs, old then new: per-benchmark differences, a paired test, and the changed verdicts",
    )  # fmt: skip


def write_report(report, out: Path) -> dict[str, Path]:
    from .build import report_dict
    from .render_html import render_html
    from .render_md import render_markdown

    if out.exists() and not out.is_dir():
        raise ReportError(f"--output {out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = {"md": out / "report.md", "json": out / "report.json", "html": out / "report.html"}
        # Each file whole or not at all: a reader never sees half a report, a full disk leaves no .tmp.
        write_atomic(paths["md"], render_markdown(report))
        write_atomic(paths["json"], json_document(report_dict(report)))
        write_atomic(paths["html"], render_html(report))
    except OSError as exc:
        raise ReportError(f"--output {out}: cannot write ({exc.strerror or exc})") from None
    except OutputError as exc:  # names the file and the reason
        raise ReportError(str(exc)) from None
    return paths


def cmd_report(args: argparse.Namespace) -> int:
    from .build import build_report

    report = build_report(args.runs, args.references, compare=args.compare)
    paths = write_report(report, args.output)
    for row in report.board.rows:
        if row.kind != "reference":
            # The suite averages a run has, else its own benchmarks (a run of arith alone has no avg5).
            shown = {k: a for k, a in row.averages.items() if a} or row.cells
            print(f"{row.label}: " + (", ".join(f"{k} {100 * c.mean:.1f}" for k, c in shown.items()) or "no scores"))
    if report.comparison is not None:
        for b in report.comparison.benchmarks:
            p = f"p={b.p_value:.3g}" if b.p_value is not None else "no paired test"
            print(f"{b.benchmark}: {100 * b.delta:+.1f} points ({p}, {len(b.changes)} problems changed)")
    print(f"wrote {paths['md']}, {paths['json'].name}, {paths['html'].name}")
    return 0
