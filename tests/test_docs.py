"""The docs a reader of the repository can follow: a short README, every page reachable from it, no link or
reference to anything outside the repository (a file nobody can open, an issue number)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from conformance.contract.catalog import markdown as requirements_markdown
from tests.suite_runner import ROOT

LINK = re.compile(r"\]\(([^)\s]+)\)")
# References a reader of the repository cannot follow. tests/test_catalog.py checks the catalog against its
# upstream source when that lies beside a checkout, and says so.
DANGLING = re.compile(
    r"(?<![\w/])(?:\.\./shared/|CONTRACT\.md|REQUIREMENTS\.md)"  # the upstream documents
    r"|\bissues? \d+\b|\(issue[ :\x22]"  # issue numbers
)
EXEMPT = {"tests/test_catalog.py", "tests/test_docs.py"}


def tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False).stdout
    return [line for line in out.splitlines() if line] or [
        str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts
    ]


def links(page: Path) -> list[Path]:
    """The repository files a Markdown page links to (web links and anchors on the page left out)."""
    out = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        out.append((page.parent / target.split("#", 1)[0]).resolve())
    return out


def test_the_readme_is_short() -> None:
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 150


def test_every_link_of_every_page_points_to_a_file_of_the_repository() -> None:
    pages = [
        ROOT / "README.md",
        ROOT / "ARCHITECTURE.md",
        ROOT / "CONTRIBUTING.md",
        *(ROOT / "docs").glob("*.md"),
    ]
    broken = [f"{page.name} -> {target}" for page in pages for target in links(page) if not target.exists()]
    assert not broken, broken


def test_every_docs_page_is_reachable_from_the_readme() -> None:
    seen: set[Path] = set()
    todo = [(ROOT / "README.md").resolve()]
    while todo:
        page = todo.pop()
        if page in seen or page.suffix != ".md":
            continue
        seen.add(page)
        todo += [target for target in links(page) if target.exists()]
    unreachable = sorted(p.name for p in (ROOT / "docs").glob("*.md") if p.resolve() not in seen)
    assert not unreachable, unreachable


@pytest.mark.parametrize(
    "name", [n for n in tracked() if n.endswith((".py", ".md", ".toml", ".yaml", ".j2", ".json"))]
)
def test_no_file_cites_what_a_reader_of_the_repository_cannot_open(name: str) -> None:
    if name in EXEMPT:
        return
    path = ROOT / name
    if not path.is_file():
        return
    found = [
        f"{name}:{number}: {line.strip()[:100]}"
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if DANGLING.search(line)
    ]
    assert not found, found


def test_the_requirements_page_is_generated_from_the_catalog_and_current() -> None:
    page = (ROOT / "docs" / "requirements.md").read_text(encoding="utf-8")
    assert page == requirements_markdown(), (
        "docs/requirements.md is stale: python -m conformance.contract.catalog > docs/requirements.md"
    )
