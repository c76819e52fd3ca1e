"""Every doc the code cites is in the project, and every cited section exists in it.

A citation is a path ``docs/<page>.md``, optionally followed by a section as `` §<anchor>`` or ``#<anchor>``; a bare
``§<anchor>`` cites docs/algorithm.md. Anchors are the page's heading link anchors, computed as GitHub does.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CODE_DIRS = ("prime_eval", "prime_train", "prime_common", "benchmarks", "sandbox", "scripts", "tests")
CITING = [*(p for d in CODE_DIRS for p in (ROOT / d).rglob("*")), *(ROOT / "docs").glob("*.md"), ROOT / "README.md"]
SUFFIXES = {".py", ".yaml", ".yml", ".md", ".sh", ".toml"}
# A page path, then maybe a section. "../shared/docs/x.md" is a briefing outside the project: prose may name it as
# a source, code may not cite it (it is read as docs/x.md, which must be ours).
PAGE = re.compile(r"(?<![\w-])(\.\./shared/)?docs/([\w./-]+?\.md)(?:(?: §|#)([\w-]+))?")
BARE_SECTION = re.compile(r"(?<!\.md )§([\w.-]*\w)")
LINK = re.compile(r"\]\(([\w./-]+\.md)?#([\w-]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    out, fenced = set(), False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if fenced or not (m := re.match(r"#{1,6} (.+)", line)):
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def citations(path: Path, text: str) -> list[tuple[str, str | None]]:
    """(page, section or None) for every citation in ``text``; pages relative to docs/."""
    found = [(m[2], m[3]) for m in PAGE.finditer(text) if not (m[1] and path.suffix == ".md")]
    found += [("algorithm.md", m[1]) for m in BARE_SECTION.finditer(text)]
    if path.parent == ROOT / "docs":  # links between pages: ](page.md#anchor), ](#anchor)
        found += [(m[1] or path.name, m[2]) for m in LINK.finditer(text)]
    return found


def all_citations() -> list[tuple[str, str, str | None]]:
    out = []
    for path in CITING:
        if path.is_file() and path.suffix in SUFFIXES and path != Path(__file__).resolve():
            text = path.read_text(encoding="utf-8", errors="replace")
            out += [(path.relative_to(ROOT).as_posix(), page, section) for page, section in citations(path, text)]
    return out


def broken(cites: list[tuple[str, str, str | None]]) -> list[str]:
    problems, cache = [], {}
    for where, page, section in cites:
        target = ROOT / "docs" / page
        if not target.is_file():
            problems.append(f"{where}: docs/{page} is not in the project")
        elif section is not None:
            if page not in cache:
                cache[page] = anchors(target)
            if section not in cache[page]:
                problems.append(f"{where}: docs/{page} has no section '{section}'")
    return problems


def test_every_cited_doc_and_section_exists():
    cites = all_citations()
    assert any(page == "algorithm.md" and section for _, page, section in cites), "expected algorithm citations"
    assert broken(cites) == []


def test_algorithm_sections_the_code_relies_on_exist():
    have = anchors(ROOT / "docs" / "algorithm.md")
    for name in ("implicit-reward", "precision", "prm-loss", "prm-update-order", "rloo", "returns"):
        assert name in have
    for name in ("ppo-loss", "kl", "accuracy-filter", "step-order", "defaults", "best-of-n"):
        assert name in have


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("see docs/prime-algorithm.md §1", "docs/prime-algorithm.md is not in the project"),
        ("(../shared/docs/prime-algorithm.md)", "docs/prime-algorithm.md is not in the project"),
        ("as the reference does (doc §3.4)", "docs/algorithm.md has no section '3.4'"),
        ("(docs/algorithm.md §no-such-part)", "docs/algorithm.md has no section 'no-such-part'"),
        ("(docs/training.md#no-such-part)", "docs/training.md has no section 'no-such-part'"),
    ],
)
def test_a_missing_page_or_section_is_reported(text, problem):
    assert broken([("x.py", p, s) for p, s in citations(ROOT / "x.py", text)]) == [f"x.py: {problem}"]


def test_good_citations_pass():
    text = "docs/algorithm.md §rloo, §accuracy-filter, docs/training.md#resuming, docs/training.md"
    assert len(citations(ROOT / "x.py", text)) == 4
    assert broken([("x.py", p, s) for p, s in citations(ROOT / "x.py", text)]) == []


def test_anchors_follow_github(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("# Top\n## Where prime differs, and why\n```\n# not a heading\n```\n## Top\n### KL (issue 16)\n")
    assert anchors(page) == {"top", "where-prime-differs-and-why", "top-1", "kl-issue-16"}
