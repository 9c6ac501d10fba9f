"""The lab's console: 100 columns wherever the output goes, and plain text when asked for."""

from __future__ import annotations

import io
import logging
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


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("env", "terminal", "expected"),
    [
        ({}, True, True),
        ({}, False, False),
        ({"FORCE_COLOR": "1"}, False, True),
        ({"NO_COLOR": "1"}, True, False),
        ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, True, False),  # NO_COLOR always wins
    ],
)
def test_one_colour_decision_for_the_console_the_log_and_the_workers(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], terminal: bool, expected: bool
) -> None:
    from asgi_lab import colour, serving
    from asgi_lab.probe.log import default_handler

    for name in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    stream = _Terminal() if terminal else io.StringIO()
    assert colour.wanted(stream) is expected
    printed = io.StringIO() if not terminal else _Terminal()
    console(printed).print(Text("x", style="red"))
    assert ("\x1b[" in printed.getvalue()) is expected
    message = logging.LogRecord("asgi_lab.requests", logging.INFO, "", 0, "worker 7 x", None, None)
    message.asgi_lab_pid = 7
    assert ("\x1b[" in default_handler(stream).format(message)) is expected
    # Workers whose output is passed on to `stream` are told to colour only when it would.
    told = serving._colour(stream) == {"FORCE_COLOR": "1"}
    assert told is expected
