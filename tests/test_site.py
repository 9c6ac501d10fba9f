"""The book as a site: `mkdocs build --strict` passes, in reading order, with every picture, and
every chapter ends with its limitations and a link to the next."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

#: The reading order, which the chapter numbers follow: the loop first, your own project last.
ORDER = [
    "index.md",
    "01-the-loop.md",
    "02-the-threadpool.md",
    "03-def-or-async-def.md",
    "04-workers-and-the-gil.md",
    "05-clients-and-fan-out.md",
    "06-databases-and-threads.md",
    "07-sqlalchemy-and-threads.md",
    "08-the-event-loop-itself.md",
    "09-raw-asgi.md",
    "10-starlette-routes.md",
    "11-framework.md",
    "12-finding-the-blocker.md",
    "13-assert-it-in-your-tests.md",
    "14-reliability.md",
    "15-django-litestar-and-quart.md",
    "16-servers.md",
    "17-sizing.md",
]


def nav_pages() -> list[str]:
    """The pages of mkdocs.yml's nav, in order (read as text: no YAML library needed)."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:\n", 1)[1]
    return re.findall(r":\s+(\S+\.md)\s*$", text, re.M)


def nav_titles() -> dict[str, str]:
    """Each nav page's title in mkdocs.yml, by file name."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:\n", 1)[1]
    return {page: title for title, page in re.findall(r"^\s*- (.+?):\s+(\S+\.md)\s*$", text, re.M)}


#: The last line of a page: the next page in the nav, by its nav title (the last goes back home).
NEXT = re.compile(r"^(?:Next|Back to the start): \[(?P<title>[^\]]+)\]\((?P<page>[^)]+\.md)\)$")


def prose(text: str) -> str:
    """A page without its fenced blocks, whose lines may look like headings and are not."""
    return re.sub(r"^```.*?^```[ \t]*$", "", text, flags=re.M | re.S)


def next_link(page: str) -> re.Match[str] | None:
    lines = [line for line in (DOCS / page).read_text(encoding="utf-8").splitlines() if line]
    return NEXT.match(lines[-1]) if lines else None


def test_the_nav_is_the_reading_order_and_has_every_chapter() -> None:
    pages = sorted(p.name for p in DOCS.glob("*.md"))
    assert nav_pages() == [page for page in ORDER if page in pages]
    assert set(nav_pages()) == set(pages), "a chapter missing from mkdocs.yml's nav"


def test_the_site_builds_strict_with_every_picture(tmp_path: Path) -> None:
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        # Material's banner about its successor is not a warning about the book.
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert not re.search(r"^(WARNING|ERROR)\b", done.stderr, re.M), done.stderr
    for page in DOCS.glob("*.md"):
        for picture in re.findall(r"\]\((img/[^)]+\.svg)\)", page.read_text(encoding="utf-8")):
            assert (site / picture).is_file(), f"{page.name}: {picture} not in the site"
    # The generator's markers are HTML comments: invisible, not printed as text.
    loop = (site / "01-the-loop" / "index.html").read_text(encoding="utf-8")
    assert "<!-- output:" in loop and "&lt;!-- output" not in loop


#: Every numbered chapter, in nav order.
CHAPTERS = [page for page in nav_pages() if re.match(r"\d\d-", page)]


@pytest.mark.parametrize("page", CHAPTERS)
def test_every_chapter_ends_with_limitations_then_a_link_to_the_next(page: str) -> None:
    """The book's promise: each chapter says what it did not show, then where to read on."""
    text = prose((DOCS / page).read_text(encoding="utf-8"))
    headings = re.findall(r"^## (.+?)\s*$", text, re.M)
    assert headings and headings[-1] == "Limitations", f"{page} must end with '## Limitations'"
    limits = text.rsplit("## Limitations", 1)[1]
    assert re.search(r"^- \S", limits, re.M), f"{page}: its Limitations section lists nothing"
    assert_ends_with_link_to_the_next(page)


def test_the_contents_page_ends_with_a_link_to_chapter_one() -> None:
    assert_ends_with_link_to_the_next("index.md")


def assert_ends_with_link_to_the_next(page: str) -> None:
    """The page's last line links to the page after it in the nav; the last page, to the first."""
    pages, titles = nav_pages(), nav_titles()
    following = pages[(pages.index(page) + 1) % len(pages)]
    want = f"[{titles[following]}]({following})"
    link = next_link(page)
    assert link is not None, f"{page} must end with a line 'Next: {want}'"
    assert (link["title"], link["page"]) == (titles[following], following), f"{page}: want {want}"
