"""The docs generator rewrites only marked blocks, runs only our commands, and covers the lab."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from asgi_lab.lab.docs import BLOCK, command_line, refresh
from asgi_lab.lab.experiments import REGISTRY

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_refresh_replaces_only_marked_blocks() -> None:
    text = (
        "intro\n"
        "<!-- output: asgi-lab experiment clients -->\nold output\n<!-- /output -->\n"
        "middle\n"
        "<!-- output: python -m asgi_lab.lab.overhead -->\n<!-- /output -->\n"
        "end\n"
    )
    seen: list[str] = []

    def runner(command: str) -> tuple[int, str]:
        seen.append(command)
        return (1 if "clients" in command else 0), f"ran {command}\n"

    failed: list[str] = []
    out = refresh(text, runner, failed=failed)
    assert seen == ["asgi-lab experiment clients", "python -m asgi_lab.lab.overhead"]
    assert "old output" not in out
    assert "```text\n$ asgi-lab experiment clients\nran asgi-lab experiment clients\n```\n" in out
    assert out.startswith("intro\n") and "\nmiddle\n" in out and out.endswith("end\n")
    assert failed == ["asgi-lab experiment clients (exit 1)"]
    # Refreshing again gives the same text: the markers survive.
    assert refresh(out, runner) == out


def test_command_line_runs_only_our_commands() -> None:
    assert command_line("asgi-lab experiment gil") == [
        sys.executable,
        "-m",
        "asgi_lab",
        "experiment",
        "gil",
    ]
    assert command_line("python -m asgi_lab.lab.overhead") == [
        sys.executable,
        "-m",
        "asgi_lab.lab.overhead",
    ]
    for bad in ("rm -rf /", "python -c 'print(1)'", "python -m pip list"):
        with pytest.raises(ValueError, match="must start with"):
            command_line(bad)


def test_every_experiment_has_real_output_in_its_chapter() -> None:
    chapters = {p.stem: p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("1?-*.md"))}
    assert set(chapters) == {exp.chapter for exp in REGISTRY.values()}
    for exp in REGISTRY.values():
        blocks = [m for m in BLOCK.finditer(chapters[exp.chapter])]
        commands = [m.group("command").strip() for m in blocks]
        assert f"asgi-lab experiment {exp.name}" in commands, exp.name
    for text in chapters.values():
        for block in BLOCK.finditer(text):
            body = block.group("body")
            assert body.startswith("```text\n$ "), "run scripts/docs to fill the block"
            command = block.group("command").strip()
            if command.startswith("asgi-lab experiment"):
                assert "=> PASS" in body, f"{command}: the committed output should pass"
