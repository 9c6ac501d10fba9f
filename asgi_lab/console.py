"""Where the lab's text goes: a rich console at most 100 columns wide.

A report reads the same in a terminal, a pipe, a log file and the docs, which show the lab's
output as it was printed: rich wraps long cells inside their column to stay within `WIDTH`. A
narrower terminal gets its own width; a wider one still gets `WIDTH`, so a line never grows
with the window. Output that is not a terminal gets `WIDTH` too (rich would guess 80).
"""

from __future__ import annotations

import io
import re
import shutil
import sys
from typing import TextIO

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from asgi_lab.colour import wanted

__all__ = ["WIDTH", "Wrapped", "console", "labelled", "plain", "width"]

#: The widest line the lab prints.
WIDTH = 100


def width(file: TextIO | None = None) -> int:
    """`WIDTH`, or the terminal's width if `file` (default stdout) is a narrower terminal."""
    stream = sys.stdout if file is None else file
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):  # a closed or fake stream
        terminal = False
    # The stream's own terminal decides, not rich, which takes FORCE_COLOR for a terminal and
    # then guesses 80 columns for a pipe.
    return min(WIDTH, shutil.get_terminal_size((WIDTH, 24)).columns) if terminal else WIDTH


def console(
    file: TextIO | None = None, *, columns: int | None = None, colour: bool = True
) -> Console:
    """A console for `file` (default stdout), `columns` or else `width(file)` wide, that reads
    text as text: no markup (`[redacted]` is not a style), no emoji codes, no highlighting;
    `colour=False` writes no escape codes even when FORCE_COLOR asks for them."""
    wide = columns or width(file)
    coloured = colour and wanted(sys.stdout if file is None else file)
    return Console(
        file=file,
        width=wide,
        highlight=False,
        markup=False,
        emoji=False,
        force_terminal=coloured,
        no_color=not coloured,
        color_system="auto" if coloured else None,
    )


def plain(*renderables: RenderableType, columns: int = WIDTH) -> str:
    """Renderables, one under the other, as plain text `columns` wide, without the spaces rich
    pads lines with."""
    buffer = io.StringIO()
    console(buffer, columns=columns, colour=False).print(Group(*renderables))
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())


def labelled(label: str, text: str) -> Table:
    """`label text`, the text wrapping under itself rather than under the label."""
    grid = Table.grid(padding=(0, 1, 0, 0))
    grid.add_column(no_wrap=True)
    grid.add_column()
    grid.add_row(Text(label), Wrapped(text))
    return grid


# A piece ends after its slashes or its spaces: a line may break after any piece.
_PIECES = re.compile(r"[^ /]*(?:/+ *| +|$)")


class Wrapped:
    """Text (never markup) that wraps at spaces and after a `/`, never inside a word."""

    def __init__(self, text: str, style: str = "") -> None:
        self.text = text
        self.style = style
        self.pieces = [p for p in _PIECES.findall(text) if p]

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        longest = max((cell_len(p.rstrip()) for p in self.pieces), default=0)
        widest = max((cell_len(line) for line in self.text.splitlines()), default=0)
        return Measurement(longest, widest).clamp(max_width=options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text("\n".join(self.lines(options.max_width)), style=self.style, overflow="fold")

    def lines(self, width: int) -> list[str]:
        """The text broken into lines at most `width` wide where its words allow."""
        lines: list[str] = []
        line = ""
        for piece in self.pieces:
            if line and cell_len(line + piece.rstrip()) > width:
                lines.append(line.rstrip())
                line = ""
            line += piece
        if line or not lines:
            lines.append(line.rstrip())
        return lines
