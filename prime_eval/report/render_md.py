"""``report.md``: the leaderboard, training checkpoints, pass@k / maj@k tables and the comparison in Markdown."""

from __future__ import annotations

from .build import MAX_CHANGES_SHOWN, Report, checkpoint_rows
from .compare import Comparison
from .fmt import answer, count, p_value, pct, score, signed_pct
from .runs import Run
from .table import Cell, average_footnotes

LEGEND = (
    "Scores in percent. Run cells: mean ± standard error over problems, then (problems×samples per problem); "
    "letters point to the notes below the table. Reference cells are the published numbers."
)


def _esc(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(_esc(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_esc(c) for c in row) + " |" for row in rows]
    return lines


def _cell(c: Cell | None, with_count: bool) -> str:
    if c is None:
        return "—"
    text = score(c)
    if with_count and count(c):
        text += f" ({count(c)})"
    return text + "".join(f" [{m}]" for m in c.notes)


def _runs_section(report: Report) -> list[str]:
    rows = []
    for r in report.runs:
        rows.append([r.title, r.kind, r.model, r.settings_summary(), str(r.path)])
    return ["## Runs", "", *_table(["run", "kind", "model", "settings", "path"], rows), ""]


def _leaderboard(report: Report) -> list[str]:
    board = report.board
    header = ["", "source", *board.columns, *(s.key for s in board.averages)]
    rows = []
    for row in board.rows:
        is_run = row.kind != "reference"
        label = f"**{row.label}**" if is_run else row.label
        cells = [_cell(row.cells.get(b), is_run) for b in board.columns]
        cells += [_cell(row.averages.get(s.key), False) for s in board.averages]
        rows.append([label, "run" if is_run else "published", *cells])
    notes = [f"- [{f.marker}] {f.text}" for f in board.footnotes] + [f"- {t}" for t in average_footnotes(board)]
    sources = sorted({f"{r.set.name}: {r.set.source}" for r in report.references})
    return ["## Leaderboard", "", LEGEND, "", *_table(header, rows), "", *notes,
            *(["", "References: " + "; ".join(sources) + "."] if sources else []), ""]  # fmt: skip


def _training(run: Run, report: Report) -> list[str]:
    keys = [s.key for s in report.board.averages]
    names = sorted({b for c in run.checkpoints for b in c.benchmarks}, key=report.board.columns.index)
    rows = []
    for c in checkpoint_rows(run, report):
        cells = [_fmt_score(c["scores"].get(b)) for b in names]
        rows.append([str(c["step"]), *cells, *(_fmt_score(c["averages"][k]) for k in keys)])
    last = f"; the leaderboard shows step {run.step}" if run.step is not None else ""
    lines = [f"### {run.label}", "", f"{len(run.checkpoints)} evaluated checkpoints{last}; "
             f"{len(run.train_log)} steps in metrics.jsonl.", ""]  # fmt: skip
    return lines + _table(["step", *names, *keys], rows) + [""]


def _fmt_score(d: dict | None) -> str:
    if d is None:
        return "—"
    return pct(d["mean"]) + (f" ± {pct(d['stderr'])}" if d.get("stderr") is not None else "")


def _curves(run: Run) -> list[str]:
    lines = [f"### {run.title}", ""]
    for name, b in run.benchmarks.items():
        points = {kind: b.curve(kind) for kind in ("pass", "maj")}
        if not any(points.values()):
            continue
        ks = sorted({k for pts in points.values() for k, _ in pts})
        rows = []
        for kind, pts in points.items():
            by_k = dict(pts)
            rows.append([f"{kind}@k", *(score(Cell(by_k[k].mean, by_k[k].stderr)) if k in by_k else "—" for k in ks)])
        lines += [f"{name}:", "", *_table(["k", *map(str, ks)], rows), ""]
    return lines


def comparison_lines(c: Comparison) -> list[str]:
    lines = [f"## Comparison: {c.a} → {c.b}", "",
             "Δ = new − old in points on the problems both runs scored (matched by problem id); ± is the standard "
             "error of the paired mean difference. \"old better\"/\"new better\" count problems where that run "
             "scored higher. The test is named per benchmark: exact McNemar on binary verdicts (one sample per "
             "problem), a paired permutation (sign-flip) test on per-problem mean scores otherwise.", ""]  # fmt: skip
    rows = [
        [b.benchmark, pct(b.a_mean), pct(b.b_mean), signed_pct(b.delta) + (f" ± {pct(b.delta_stderr)}" if b.delta_stderr is not None else ""),
         str(b.shared), str(b.a_better), str(b.b_better), b.test, p_value(b.p_value)]
        for b in c.benchmarks
    ]  # fmt: skip
    header = ["benchmark", c.a, c.b, "Δ", "shared", "old better", "new better", "test", "p"]
    lines += _table(header, rows) + [""]
    for name, missing in ((c.a, c.only_in_b), (c.b, c.only_in_a)):
        if missing:
            lines.append(f"Not in {name}: {', '.join(missing)} (not compared).")
    for b in c.benchmarks:
        extra = [f"- {n}" for n in b.notes]
        if b.only_a or b.only_b:
            extra.append(f"- {b.only_a} problems only in {c.a}, {b.only_b} only in {c.b} (left out of the test)")
        if not b.changes and not extra:
            continue
        lines += [f"### {b.benchmark}: {len(b.changes)} problems changed", ""] + ([*extra, ""] if extra else [])
        if b.changes:
            rows = [[ch.problem_id, answer(ch.old_answer), answer(ch.new_answer), pct(ch.old_score, 0), pct(ch.new_score, 0)]
                    for ch in b.changes[:MAX_CHANGES_SHOWN]]  # fmt: skip
            lines += _table(["problem", f"{c.a} answer", f"{c.b} answer", f"{c.a} %", f"{c.b} %"], rows)
            if len(b.changes) > MAX_CHANGES_SHOWN:
                lines.append(f"\n… and {len(b.changes) - MAX_CHANGES_SHOWN} more in report.json.")
            lines.append("")
    return lines


def render_markdown(report: Report) -> str:
    lines = ["# prime-eval report", "", f"Generated {report.generated_at}.", ""]
    lines += _runs_section(report) + _leaderboard(report)
    training = [r for r in report.runs if r.checkpoints]
    if training:
        lines += ["## Training runs", ""]
        for run in training:
            lines += _training(run, report)
    sampled = [r for r in report.runs if r.has_curves]
    if sampled:
        lines += ["## pass@k and maj@k", ""]
        for run in sampled:
            lines += _curves(run)
    if report.comparison is not None:
        lines += comparison_lines(report.comparison)
    return "\n".join(lines).rstrip() + "\n"
