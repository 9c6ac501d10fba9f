"""The lab's console: 100 columns wherever the output goes, and plain text when asked for."""

from __future__ import annotations

import io
import os
import pty

import pytest
from rich.text import Text

from asgi_lab.console import WIDTH, console, plain, width


@pytest.mark.parametrize("forced", [None, "1"])
def test_a_pipe_gets_the_full_width_even_when_colour_is_forced(
    monkeypatch: pytest.MonkeyPatch, forced: str | None
) -> None:
    # rich takes FORCE_COLOR for a terminal and would then guess 80 columns for a pipe.
    if forced is None:
        monkeypatch.delenv("FORCE_COLOR", raising=False)
    else:
        monkeypatch.setenv("FORCE_COLOR", forced)
    assert width(io.StringIO()) == WIDTH
    assert console(io.StringIO()).width == WIDTH


def test_a_narrower_terminal_gets_its_own_width(monkeypatch: pytest.MonkeyPatch) -> None:
    leader, follower = pty.openpty()
    try:
        with os.fdopen(follower, "w", closefd=False) as tty:
            monkeypatch.setenv("COLUMNS", "60")  # what shutil reads first, as a shell sets it
            assert width(tty) == 60
            monkeypatch.setenv("COLUMNS", "300")
            assert width(tty) == WIDTH, "a wider one still gets 100: lines never grow"
    finally:
        os.close(leader)
        os.close(follower)


def test_plain_text_has_no_escape_codes_even_when_colour_is_forced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    text = plain(Text("red [bold]not markup[/bold]", style="red"))
    assert text == "red [bold]not markup[/bold]"
