"""report.html in headless Chromium: it loads from disk without script errors or blocked loads, shows every run
and every benchmark, and a screenshot is kept as a test artifact.

Errors are read two ways that need no debugging protocol: the page's own error hook marks ``<html>`` (seen with
``--dump-dom``), and Chromium's console log on stderr (``--enable-logging=stderr``). A deliberately broken copy of
the page checks that both would notice.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from prime_eval.cli import main
from tests.test_report import MATH5, make_runs

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
BROWSER = os.environ.get("PRIME_CHROMIUM") or next((b for p in BROWSERS if (b := shutil.which(p))), None)
WINDOW = (1400, 3600)
ARTIFACTS = Path(os.environ.get("PRIME_TEST_ARTIFACTS") or Path(__file__).parent / "artifacts")

pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no chromium binary (scripts/install.sh installs it; or set PRIME_CHROMIUM)"
)


def _chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [BROWSER, "--headless", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage", "--no-first-run",
           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", *args,
           page.resolve().as_uri()]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


def _console_errors(stderr: str) -> list[str]:
    # Chromium logs page console messages as `...:CONSOLE(:line)] "message", source: ...`; its own dbus or GPU
    # complaints on a headless machine are not the page's and are ignored.
    return [
        line
        for line in stderr.splitlines()
        if ":CONSOLE" in line and re.search(r"Uncaught|violates|Failed|Error", line)
    ]


def _html_attrs(dom: str) -> str:
    m = re.search(r"<html[^>]*>", dom)
    assert m, dom[:500]
    return m.group(0)


@pytest.fixture(scope="module")
def report_page(tmp_path_factory) -> Path:
    runs = make_runs(tmp_path_factory.getbasetemp() / "report_runs")
    out = tmp_path_factory.mktemp("chromium_report")
    args = ["report", str(runs["old"]), str(runs["sampled"]), str(runs["train"]), "--output", str(out),
            "--references", "eurus2", "eurus2_avg16"]  # fmt: skip
    assert main(args) == 0
    return out / "report.html"


def test_page_loads_clean_and_shows_every_run_and_benchmark(report_page, tmp_path):
    result = _chromium(report_page, tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    html = _html_attrs(dom)
    assert "data-report-errors" not in html, re.search(r'<div id="report-errors"[^>]*>([^<]*)', dom).group(1)
    assert _console_errors(result.stderr) == []
    # the last script ran: every leaderboard row is there (3 runs + 10 Table 1 rows + 4 Table 12 rows)
    assert re.search(r'data-report-ready="(\d+)"', html).group(1) == "17"
    rows = re.findall(r'<tr class="(?:run|reference)" data-row="([^"]+)" data-kind="([^"]+)"', dom)
    kinds = dict(rows)
    assert kinds["old"] == "harness" and kinds["sampled"] == "harness" and kinds["train @ step 30"] == "training"
    heads = set(re.findall(r'<th data-sortable="" data-benchmark="([^"]+)"', dom))
    assert set(MATH5) | {"leetcode", "livecodebench", "avg7", "avg5"} <= heads
    for plot in ("accuracy", "curves", "steps-0"):
        assert f'id="plot-{plot}"' in dom
    assert dom.count("<svg") >= 3


def test_screenshot_is_written_as_an_artifact(report_page, tmp_path):
    shot = tmp_path / "report.png"
    result = _chromium(
        report_page, tmp_path / "profile", f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}"
    )
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    head = shot.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == WINDOW  # IHDR: the page was laid out at the size asked for
    assert shot.stat().st_size > 50_000  # a blank page compresses to a few kB; this one has tables and figures
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "report.png")
    shutil.copy(report_page, ARTIFACTS / "report.html")


def test_broken_page_is_caught(report_page, tmp_path):
    """The checks above can fail: a script error and an external image on a copy of the page are both seen."""
    bad = tmp_path / "bad.html"
    html = report_page.read_text()
    bad.write_text(
        html.replace("</body>", '<img src="https://example.com/x.png"><script>notDefined()</script></body>')
    )
    result = _chromium(bad, tmp_path / "profile", "--dump-dom")
    attrs = _html_attrs(result.stdout)
    assert re.search(r'data-report-errors="[1-9]', attrs), attrs
    assert "notDefined is not defined" in result.stdout
    errors = " ".join(_console_errors(result.stderr))
    assert "notDefined" in errors and "example.com" in errors


def test_compare_page_loads_clean(tmp_path_factory, tmp_path):
    runs = make_runs(tmp_path_factory.getbasetemp() / "report_runs")
    out = tmp_path / "cmp"
    assert main(["report", str(runs["old"]), str(runs["new"]), "--compare", "--output", str(out)]) == 0
    result = _chromium(out / "report.html", tmp_path / "profile", "--dump-dom")
    assert "data-report-errors" not in _html_attrs(result.stdout) and _console_errors(result.stderr) == []
    assert 'id="plot-compare"' in result.stdout and "exact McNemar" in result.stdout
