"""Reports: a result as a table of verdicts and of who served what, a tour summary, progress.

rich lays every table out at most `console.WIDTH` columns wide: a long claim, fact or title
wraps inside its own column instead of widening the report. Rows whose labels share a prefix
(`threads=4: ...`) are printed under that prefix once, and a bound's note is numbered in the
bound's cell and printed, once per distinct note, under the table.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import TextIO

from rich.console import RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from asgi_lab import console
from asgi_lab.lab.harness import Result
from asgi_lab.lab.observed import Observed, Served
from asgi_lab.lab.verdicts import Verdict
from asgi_lab.records.schema import RecordData
from asgi_lab.timeline import build, terminal

__all__ = ["StderrProgress", "by_phase", "grouped", "render", "summary", "table"]

#: How far tables and facts sit in from the report's `==` heading.
INDENT = 2
#: The widest a fact's label grows before it wraps: it leaves a value 60 columns, room for a
#: dozen timings on one line.
LABEL = 36


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A borderless table as plain text, laid out as the reports' own (for bench/clients.py)."""
    grid = _columns(*headers)
    for row in rows:
        grid.add_row(*row)
    return console.plain(_indented(grid))


def quantity(value: float, unit: str) -> str:
    """A value in a readable unit: seconds below one become milliseconds."""
    if unit == "s":
        if abs(value) < 1:
            return f"{value * 1e3:.1f} ms"
        return f"{value:.3f} s"
    if float(value).is_integer():
        return f"{int(value)} {unit}".strip()
    return f"{value:.3g} {unit}".strip()


def ratio(verdict: Verdict) -> str:
    if math.isinf(verdict.ratio):
        return "inf"
    return f"{verdict.ratio:.3f}"


def accepts(verdict: Verdict) -> str:
    if not verdict.timing:
        return "= 1"
    if verdict.low > 0:
        return f"{verdict.low:.3f}..{verdict.high:.3g}"
    return f"<= {verdict.high:.3g}"  # 1.05, 1.25, 0.962: as precise as needed


def _ids(values: Sequence[object]) -> str:
    # ", " rather than ",": rich wraps a long list at its spaces, inside its column.
    shown = ", ".join(str(v) for v in values[:4])
    return shown + (f", +{len(values) - 4}" if len(values) > 4 else "")


def grouped(labels: Sequence[str]) -> list[tuple[str | None, str]]:
    """Each label as (a heading to print above it, or None; the label to print).

    Two or more labels in a row with the same prefix before their last ": " are printed under
    that prefix: `threads=4: 8 sleeps of S` becomes `8 sleeps of S` under `threads=4:`. Any
    other label is printed whole.
    """
    split = [label.rpartition(": ") for label in labels]
    out: list[tuple[str | None, str]] = []
    for i, (prefix, colon, rest) in enumerate(split):
        before = i > 0 and split[i - 1][0] == prefix
        after = i + 1 < len(split) and split[i + 1][0] == prefix
        if not colon or not (before or after):
            out.append((None, labels[i]))
        else:
            out.append((None if before else f"{prefix}:", rest))
    return out


def by_phase(observed: Sequence[Observed]) -> dict[str, list[RecordData]]:
    """Records per phase, phases in the order they ran: each phase is its own server."""
    phases: dict[str, list[RecordData]] = {}
    for seen in observed:
        phases.setdefault(seen.phase, []).append(seen.record)
    return phases


def _indented(renderable: RenderableType) -> Padding:
    return Padding(renderable, (0, 0, 0, INDENT))


def _columns(*headers: str, wrap: Sequence[str] = ()) -> Table:
    """A borderless table, two spaces between columns; only the `wrap` columns may wrap."""
    grid = Table(box=None, padding=(0, 2, 0, 0), pad_edge=False, header_style="")
    for header in headers:
        grid.add_column(header, no_wrap=header not in wrap, overflow="fold")
    return grid


def _label_cells(labels: Sequence[str]) -> list[tuple[Text | None, RenderableType]]:
    """`grouped` as table cells: a heading row's cell (or None), then the label's own cell,
    indented under its heading so that a wrapped label stays indented too."""
    cells: list[tuple[Text | None, RenderableType]] = []
    for label, (heading, shown) in zip(labels, grouped(labels), strict=True):
        cell = Text(shown) if shown == label else _indented(Text(shown))
        cells.append((None if heading is None else Text(heading), cell))
    return cells


def _verdict_table(result: Result) -> list[RenderableType]:
    """The table of claims, then the notes its bounds are numbered with."""
    rows = _columns("claim", "measured", "bound", "ratio", "accepts", "verdict", wrap=["claim"])
    notes: dict[str, int] = {}
    cells = _label_cells([v.claim for v in result.verdicts])
    for v, (heading, claim) in zip(result.verdicts, cells, strict=True):
        if heading is not None:
            rows.add_row(heading)
        bound = quantity(v.bound, v.unit)
        if v.note:  # the same note twice gets one number
            bound += f" ({notes.setdefault(v.note, len(notes) + 1)})"
        verdict = "PASS" if v.passed else "FAIL"
        rows.add_row(claim, quantity(v.measured, v.unit), bound, ratio(v), accepts(v), verdict)
    out: list[RenderableType] = [_indented(rows)]
    if notes:
        listed = Table.grid(padding=(0, 1, 0, 0))
        listed.add_column(no_wrap=True)
        listed.add_column(no_wrap=True)
        listed.add_column(overflow="fold")
        for note, n in notes.items():
            listed.add_row("bounds:" if n == 1 else "", f"({n})", Text(note))
        out.append(_indented(listed))
    return out


def _fact_table(result: Result) -> RenderableType:
    """What the experiment measured besides its claims: a label and its value a row."""
    rows = Table.grid(padding=(0, 2, 0, 0))
    rows.add_column(overflow="fold", max_width=LABEL)
    rows.add_column(overflow="fold")
    cells = _label_cells([label for label, _ in result.facts])
    for (_, value), (heading, label) in zip(result.facts, cells, strict=True):
        if heading is not None:
            rows.add_row(heading)
        rows.add_row(label, Text(value))
    return _indented(rows)


def _served_table(served: Sequence[Served]) -> RenderableType:
    """Who served each path, phase by phase: pids, loops and threads, from the records."""
    headers = ["phase: path", "reqs", "pids", "loops", "loop thread", "handler threads"]
    wrap = ["pids", "loops", "loop thread", "handler threads"]
    rows = _columns(*headers, "in pool", wrap=wrap)
    phases: dict[str, list[Served]] = {}  # phases that overlapped (fan-out's backends) interleave
    for s in served:
        phases.setdefault(s.phase, []).append(s)
    for phase, paths in phases.items():
        rows.add_row(Text(f"{phase}:"))
        for s in paths:
            rows.add_row(
                _indented(Text(s.path)),
                str(s.requests),
                _ids(s.pids),
                _ids(s.loops),
                _ids(s.loop_threads),
                _ids(s.handler_threads),
                f"{s.in_threadpool}/{s.requests}",
            )
    return _indented(rows)


def _timelines(result: Result, charset: terminal.Charset, columns: int) -> list[RenderableType]:
    """One terminal timeline per phase: phases ran one after another on different servers."""
    out: list[RenderableType] = []
    for phase, records in by_phase(result.records).items():
        drawn = terminal.render(build(records), width=columns, charset=charset).plain
        out += [Text(""), Text(f"  phase {phase}:"), Text(drawn, no_wrap=True, overflow="crop")]
    return out


def render(
    result: Result, *, charset: terminal.Charset | None = None, columns: int | None = None
) -> str:
    """The whole report of one experiment, ending with its timelines, at most `columns` wide.

    `charset` defaults to Unicode blocks if standard output can encode them, else ASCII;
    `columns` to `console.width()`: 100, or a narrower terminal's width.
    """
    if charset is None:
        charset = terminal.charset_for(sys.stdout.encoding)
    if columns is None:
        columns = console.width()
    out: list[RenderableType] = [
        console.labelled(f"== {result.name}:", result.title),
        Text(
            f"   {'serves ' + result.serves if result.serves else 'layer ' + result.layer}, "
            f"scale {result.scale:g}, took {result.seconds:.1f} s"
        ),
    ]
    if result.verdicts:
        out += [Text(""), *_verdict_table(result)]
    if result.facts:
        out += [Text(""), _fact_table(result)]
    served = result.served()
    if served:
        out += [Text(""), Text("  served by (from the probe records of every worker):")]
        out.append(_served_table(served))
    if result.error:
        out += [Text(""), _indented(console.labelled("ERROR:", result.error))]
    out += [Text(""), Text(f"  => {'PASS' if result.passed else 'FAIL'}")]
    out += _timelines(result, charset, columns)
    return console.plain(*out, columns=columns)


def summary(results: Sequence[Result], seconds: float, *, columns: int | None = None) -> str:
    """One screen: each experiment, its verdicts passed, its worst timing ratio, its title."""
    headers = ["experiment", "verdicts", "worst ratio", "took", "result"]
    rows = _columns(*headers, "what it shows", wrap=["what it shows"])
    for r in results:
        passed = sum(v.passed for v in r.verdicts)
        # The timing verdict closest to (or furthest past) its own limit.
        timing = [v for v in r.verdicts if v.timing]
        closest = max(timing, key=lambda v: v.ratio / v.high, default=None)
        worst = "-"
        if closest is not None and not math.isinf(closest.ratio):
            worst = f"{closest.ratio:.3f} ({accepts(closest)})"
        status = "PASS" if r.passed else ("ERROR" if r.error else "FAIL")
        # One line each, the title cut short if it must be: each report above has it whole.
        title = Text(r.title, no_wrap=True, overflow="ellipsis")
        rows.add_row(
            r.name,
            f"{passed}/{len(r.verdicts)}",
            worst,
            f"{r.seconds:.1f} s",
            status,
            title,
        )
    ok = sum(r.passed for r in results)
    done = Text(f"  {ok}/{len(results)} experiments passed in {seconds:.1f} s")
    return console.plain(_indented(rows), Text(""), done, columns=columns or console.width())


class StderrProgress:
    """Progress as plain lines on stderr, so stdout keeps only the report."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled

    def __call__(self, message: str) -> None:
        if self.enabled:
            stream = self.stream or sys.stderr
            print(message, file=stream, flush=True)
