"""``report.html``: one static file that opens from disk. Inline CSS, inline SVG figures and a small inline
script (sortable leaderboard); a Content-Security-Policy forbids loading anything from anywhere else.

The first script records any script error or blocked load on the page itself (``data-report-errors`` on
``<html>``, a visible banner, the title): a headless browser's ``--dump-dom`` then shows whether the page ran
cleanly, without a debugging protocol. The last one marks a page that ran to the end (``data-report-ready``).
"""

from __future__ import annotations

from html import escape

from .build import MAX_CHANGES_SHOWN, Report, checkpoint_rows
from .compare import Comparison
from .fmt import answer, count, p_value, pct, score, signed_pct
from .plots import Plot, accuracy_plot, compare_plot, curves_plot, steps_plot
from .render_md import LEGEND
from .table import Cell, average_footnotes

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

ERROR_HOOK = """
(function () {
  var errors = [];
  function record(message) {
    errors.push(message);
    var root = document.documentElement;
    root.setAttribute("data-report-errors", String(errors.length));
    document.title = "ERROR: " + errors[0];
    var banner = document.getElementById("report-errors");
    if (banner) { banner.textContent = errors.join("\\n"); banner.hidden = false; }
  }
  // Capture phase: failed resource loads do not bubble, script errors do; both land here.
  window.addEventListener("error", function (e) {
    record(e.message ? String(e.message) : "failed to load " + (e.target && (e.target.src || e.target.href) || "?"));
  }, true);
  window.addEventListener("unhandledrejection", function (e) { record("unhandled rejection: " + e.reason); });
  document.addEventListener("securitypolicyviolation", function (e) { record("blocked: " + e.blockedURI); });
  window.reportErrors = errors;
})();
"""

PAGE_SCRIPT = """
(function () {
  function key(cell) {
    var v = cell.getAttribute("data-sort");
    return v === null || v === "" ? NaN : Number(v);
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      if (!th.hasAttribute("data-sortable")) return;
      th.addEventListener("click", function () {
        var body = table.tBodies[0];
        var down = th.getAttribute("aria-sort") !== "descending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", down ? "descending" : "ascending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]);
          if (isNaN(x)) return isNaN(y) ? 0 : 1;
          if (isNaN(y)) return -1;
          return down ? y - x : x - y;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var board = document.querySelector("table.leaderboard");
  document.documentElement.setAttribute("data-report-ready", String(board ? board.tBodies[0].rows.length : 0));
})();
"""

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1280px;
       padding: 0 16px; color: #1d1d1f; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: right; vertical-align: top; }
th:first-child, td:first-child, td.text { text-align: left; }
thead th { background: #f4f4f6; }
th[data-sortable] { cursor: pointer; } th[aria-sort=descending]::after { content: " ▼"; }
th[aria-sort=ascending]::after { content: " ▲"; }
tr.run td:first-child { font-weight: 600; } tr.reference { color: #555; }
.se, .count { color: #666; font-size: 12px; } .note { font-size: 11px; } .note a { color: #b45309; }
table.leaderboard td:not(:first-child), table.compare td { white-space: nowrap; }
table.text-table td { text-align: left; }
.flagged { background: #fff7e6; }
.better { color: #15803d; } .worse { color: #b91c1c; }
figure { margin: 12px 0; overflow-x: auto; } figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 12px; }
#report-errors { background: #fee2e2; color: #991b1b; padding: 8px; white-space: pre-wrap; }
.small { color: #555; font-size: 12px; }
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _sort_attr(c: Cell | None) -> str:
    return f' data-sort="{c.mean:.6f}"' if c is not None else ' data-sort=""'


def _cell(c: Cell | None, run: bool, benchmark: str) -> str:
    attrs = f' data-benchmark="{_e(benchmark)}"' + _sort_attr(c)
    if c is None:
        return f"<td{attrs}>—</td>"
    body = pct(c.mean)
    if c.stderr is not None:
        body += f' <span class="se">± {pct(c.stderr)}</span>'
    if run and count(c):
        body += f' <span class="count">({_e(count(c))})</span>'
    if c.notes:
        links = ",".join(f'<a href="#note-{_e(m)}">{_e(m)}</a>' for m in c.notes)
        body += f'<sup class="note">{links}</sup>'

    flagged = ' class="flagged"' if c.notes else ""
    return f"<td{attrs}{flagged}>{body}</td>"


def _table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _figure(plot: Plot | None) -> str:
    if plot is None:
        return ""
    return f'<figure id="plot-{_e(plot.key)}">{plot.svg}<figcaption>{_e(plot.title)}</figcaption></figure>'


def _runs(report: Report) -> str:
    rows = []
    for r in report.runs:
        settings = _e(r.settings_summary())
        info = ", ".join(f"{k} {v}" for k, v in r.info.items())
        rows.append(
            [_e(r.title), _e(r.kind), _e(r.model), settings, f'<span class="small">{_e(r.path)}<br>{_e(info)}</span>']
        )
    return "<h2 id='runs'>Runs</h2>" + _table(
        ["run", "kind", "model", "settings", "path, provenance"], rows, "text-table"
    )


def _leaderboard(report: Report) -> str:
    board = report.board
    head = '<th>run / reference</th><th>source</th>' + "".join(
        f'<th data-sortable data-benchmark="{_e(b)}">{_e(b)}</th>' for b in (*board.columns, *(s.key for s in board.averages))
    )  # fmt: skip
    body = []
    for row in board.rows:
        is_run = row.kind != "reference"
        cells = "".join(_cell(row.cells.get(b), is_run, b) for b in board.columns)
        cells += "".join(_cell(row.averages.get(s.key), False, s.key) for s in board.averages)
        kind = "run" if is_run else "reference"
        body.append(
            f'<tr class="{kind}" data-row="{_e(row.label)}" data-kind="{_e(row.kind)}">'
            f'<td title="{_e(row.settings)}">{_e(row.label)}</td><td class="text">{_e("run: " + row.kind if is_run else "published")}</td>{cells}</tr>'
        )  # fmt: skip
    notes = "".join(f'<li id="note-{_e(f.marker)}"><b>{_e(f.marker)}</b> {_e(f.text)}</li>' for f in board.footnotes)
    notes += "".join(f"<li>{_e(t)}</li>" for t in average_footnotes(board))
    sources = "".join(
        f"<li>{_e(r.set.name)}: {_e(r.set.source)}</li>" for r in {r.set.name: r for r in report.references}.values()
    )
    return (
        f"<h2 id='leaderboard'>Leaderboard</h2><p class='small'>{_e(LEGEND)} Click a column to sort.</p>"
        f'<table class="leaderboard sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
        f"<ul class='small'>{notes}</ul>" + (f"<p class='small'>References:</p><ul class='small'>{sources}</ul>" if sources else "")
    )  # fmt: skip


def _training(report: Report) -> str:
    out = []
    keys = [s.key for s in report.board.averages]
    for i, run in enumerate(r for r in report.runs if r.checkpoints):
        names = sorted({b for c in run.checkpoints for b in c.benchmarks}, key=report.board.columns.index)
        rows = [[str(c["step"]), *(_score(c["scores"].get(b)) for b in names), *(_score(c["averages"][k]) for k in keys)]
                for c in checkpoint_rows(run, report)]  # fmt: skip
        out.append(f"<h3>{_e(run.label)}</h3><p class='small'>{len(run.checkpoints)} evaluated checkpoints; the "
                   f"leaderboard shows step {run.step}; {len(run.train_log)} steps in metrics.jsonl.</p>"
                   + _figure(steps_plot(run, report.board, i)) + _table(["step", *names, *keys], rows))  # fmt: skip
    return "<h2 id='training'>Training runs</h2>" + "".join(out) if out else ""


def _score(d: dict | None) -> str:
    return _e(score(Cell(d["mean"], d.get("stderr"))) if d else "—")


def _curves(report: Report) -> str:
    runs = [r for r in report.runs if r.has_curves]
    if not runs:
        return ""
    tables = []
    for run in runs:
        for name, b in run.benchmarks.items():
            points = {kind: dict(b.curve(kind)) for kind in ("pass", "maj")}
            ks = sorted({k for pts in points.values() for k in pts})
            if not ks:
                continue
            rows = [
                [f"{kind}@k", *(_e(score(Cell(p[k].mean, p[k].stderr))) if k in p else "—" for k in ks)]
                for kind, p in points.items()
            ]
            tables.append(f"<h3>{_e(run.title)}: {_e(name)}</h3>" + _table(["k", *map(str, ks)], rows))
    return "<h2 id='curves'>pass@k and maj@k</h2>" + _figure(curves_plot(report.runs)) + "".join(tables)


def _comparison(c: Comparison) -> str:
    rows = []
    for b in c.benchmarks:
        cls = "better" if b.delta > 0 else "worse" if b.delta < 0 else ""
        delta = f'<span class="{cls}">{signed_pct(b.delta)}</span>' + (
            f' <span class="se">± {pct(b.delta_stderr)}</span>' if b.delta_stderr is not None else ""
        )
        rows.append([_e(b.benchmark), pct(b.a_mean), pct(b.b_mean), delta, str(b.shared), str(b.a_better), str(b.b_better),
                     f'<span class="small">{_e(b.test)}</span>', p_value(b.p_value)])  # fmt: skip
    parts = [f"<h2 id='comparison'>Comparison: {_e(c.a)} → {_e(c.b)}</h2>",
             "<p class='small'>Δ = new − old in points on the problems both runs scored (matched by problem id); ± is "
             "the standard error of the paired mean difference. The test used is named per benchmark.</p>",
             _table(["benchmark", c.a, c.b, "Δ", "shared", "old better", "new better", "test", "p"], rows, "compare"),
             _figure(compare_plot(c))]  # fmt: skip
    for name, missing in ((c.a, c.only_in_b), (c.b, c.only_in_a)):
        if missing:
            parts.append(f"<p class='small'>Not in {_e(name)}: {_e(', '.join(missing))} (not compared).</p>")
    for b in c.benchmarks:
        notes = list(b.notes) + (
            [f"{b.only_a} problems only in {c.a}, {b.only_b} only in {c.b} (left out of the test)"]
            if b.only_a or b.only_b
            else []
        )
        if not b.changes and not notes:
            continue
        parts.append(f"<h3>{_e(b.benchmark)}: {len(b.changes)} problems changed</h3>")
        parts.append("".join(f"<p class='small'>{_e(n)}</p>" for n in notes))
        if b.changes:
            rows = [[_e(ch.problem_id), f"<code>{_e(answer(ch.old_answer))}</code>", f"<code>{_e(answer(ch.new_answer))}</code>",
                     pct(ch.old_score, 0), pct(ch.new_score, 0)] for ch in b.changes[:MAX_CHANGES_SHOWN]]  # fmt: skip
            parts.append(
                _table(
                    ["problem", f"{c.a} answer", f"{c.b} answer", f"{c.a} %", f"{c.b} %"], rows, "changes text-table"
                )
            )
            if len(b.changes) > MAX_CHANGES_SHOWN:
                parts.append(f"<p class='small'>… and {len(b.changes) - MAX_CHANGES_SHOWN} more in report.json.</p>")
    return "".join(parts)


def render_html(report: Report) -> str:
    plot = accuracy_plot(report.board, report.runs, report.references)
    body = [
        "<h1>prime-eval report</h1>",
        f"<p class='small'>Generated {_e(report.generated_at)}.</p>",
        _runs(report),
        _leaderboard(report),
        _figure(plot),
        _training(report),
        _curves(report),
        _comparison(report.comparison) if report.comparison else "",
    ]
    if plot is None:
        body.insert(2, "<p class='small'>matplotlib is not installed: no plots.</p>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>prime-eval report</title><script>{ERROR_HOOK}</script><style>{STYLE}</style></head>"
        f'<body><div id="report-errors" hidden></div>{"".join(body)}<script>{PAGE_SCRIPT}</script></body></html>\n'
    )
