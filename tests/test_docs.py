"""The docs cannot rot: included code matches its file, and every example runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS))

import generate  # noqa: E402

EXAMPLES = sorted(p for p in (DOCS / "examples").glob("*.py") if p.name != "show.py")


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_included_code_matches_its_file(page: Path) -> None:
    text = page.read_text()
    assert generate.refresh(text, run=False) == text, f"run scripts/docs {page.name}"


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_every_output_block_was_generated(page: Path) -> None:
    for match in generate.BLOCK.finditer(page.read_text()):
        if match["kind"] == "output":
            assert match["body"].startswith(f"```text\n$ {match['arg']}\n"), match["arg"]


def test_every_example_is_shown_in_a_chapter() -> None:
    commands = "".join(p.read_text() for p in DOCS.glob("*.md"))
    for example in EXAMPLES:
        assert f"python docs/examples/{example.name}" in commands, example.name


@pytest.mark.server
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(example: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(example)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


def test_include_names_a_function_class_or_variable() -> None:
    assert generate.include("asgi_lab/raw.py::app").startswith("```python\n#: What")
    with pytest.raises(LookupError, match="no top-level 'nothing'"):
        generate.include("asgi_lab/raw.py::nothing")


def test_links_between_chapters_resolve() -> None:
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+\.md)\)", page.read_text()):
            assert (DOCS / target).exists(), f"{page.name} links to missing {target}"
