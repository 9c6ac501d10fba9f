"""The book as a site: `mkdocs build --strict` passes, in reading order, with every picture."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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
]


def nav_pages() -> list[str]:
    """The pages of mkdocs.yml's nav, in order (read as text: no YAML library needed)."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:\n", 1)[1]
    return re.findall(r":\s+(\S+\.md)\s*$", text, re.M)


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
