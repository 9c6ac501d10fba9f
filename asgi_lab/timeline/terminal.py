"""The timeline in a terminal: one row per (worker, thread) lane, at most 100 columns.

A column is a slice of wall-clock time. A request's bar sits on its loop lane (sub-rows when
requests overlap, the deepest folded into the "in flight" curve); a hop's bar sits on the lane
of the thread that ran it, in its request's colour, labelled with the request's path. Bars that
touch alternate two fills so waves stay countable. Curves are one-row sparklines: requests in
flight, then one per pool the hops went through, labelled `<pool> <most running>/<size>` ("?"
when the records cannot tell the size; for a process pool, calls in flight). Unicode blocks
unless the output encoding cannot encode them; then plain ASCII.
"""

from __future__ import annotations

import codecs
import math
from dataclasses import dataclass

from rich.text import Text

from asgi_lab.timeline.model import PoolCurve, Series, Timeline, Worker, tick_step

__all__ = ["Charset", "ASCII", "UNICODE", "charset_for", "render"]

#: Label column: wide enough for `loop 4242:1 (asyncio)`.
LABEL = 22
#: Colours for paths, in first-seen order; requests and their hops share one.
PALETTE = ("cyan", "magenta", "yellow", "green", "blue", "red", "bright_cyan", "bright_magenta")


@dataclass(frozen=True)
class Charset:
    """The glyphs a timeline is drawn with."""

    fills: tuple[str, str]  # alternating, so bars that touch stay two bars
    levels: str  # sparkline, empty to full
    axis: str
    tick: str
    arrow: str  # points up from a label at a bar too narrow to hold it
    stall: str  # a stall of the loop, under its lane


UNICODE = Charset(("█", "▓"), " ▁▂▃▄▅▆▇█", "─", "┼", "↑", "▒")
ASCII = Charset(("#", "="), " .:-=+*#%@", "-", "+", "^", "!")


def charset_for(encoding: str | None) -> Charset:
    """Unicode blocks if `encoding` can encode every glyph we draw, else ASCII."""
    if not encoding:
        return ASCII
    try:
        codecs.lookup(encoding)
        glyphs = (
            *UNICODE.fills,
            UNICODE.levels,
            UNICODE.axis,
            UNICODE.tick,
            UNICODE.arrow,
            UNICODE.stall,
        )
        "".join(glyphs).encode(encoding)
    except (LookupError, UnicodeEncodeError):
        return ASCII
    return UNICODE


class _Scale:
    """Wall-clock ns to columns of the plot area."""

    def __init__(self, timeline: Timeline, columns: int) -> None:
        self.start = timeline.start_ns
        self.span = max(timeline.duration_ns, 1)
        self.columns = columns

    def col(self, t_ns: int) -> int:
        return min(self.columns - 1, int((t_ns - self.start) * self.columns / self.span))

    def cells(self, start_ns: int, end_ns: int) -> range:
        """Columns a bar covers: from its start's column up to (not into) its end's; at least 1."""
        first = self.col(start_ns)
        last = int((end_ns - self.start) * self.columns / self.span)
        return range(first, min(self.columns, max(last, first + 1)))

    def t(self, column: int) -> int:
        return self.start + column * self.span // self.columns


class _Row:
    """One line of the plot: characters and their styles, then labels where they fit."""

    def __init__(self, columns: int) -> None:
        self.chars = [" "] * columns
        self.styles = [""] * columns
        self.owners = [-1] * columns  # which bar each cell shows
        self.labels: list[tuple[range, str, str]] = []

    def bar(self, cells: range, fill: str, style: str, label: str) -> None:
        for c in cells:
            self.chars[c] = fill
            self.styles[c] = style
            self.owners[c] = len(self.labels)
        self.labels.append((cells, label, style))

    def place_labels(self) -> list[tuple[range, str, str]]:
        """Put each label inside its bar if it fits, else just after it in empty cells; after
        every bar is down, so a label never hides a bar. Returns the labels left over."""
        left = []
        shown = set(self.owners)
        for n, (cells, label, style) in enumerate(self.labels):
            if n not in shown:  # a later bar covers it: a label would point at the wrong bar
                continue
            if len(cells) >= len(label) + 2:
                self._write(cells.start + 1, label, f"reverse {style}")
            elif self._free(cells.stop, len(label) + 1):
                self._write(cells.stop + 1, label, style)
            else:
                left.append((cells, label, style))
        return left

    def callouts(self, labels: list[tuple[range, str, str]], arrow: str) -> bool:
        """On an empty row, point up at bars whose label found no room; True if any did."""
        placed = False
        for cells, label, style in labels:
            text = arrow + label
            at = cells.start
            if at + len(text) > len(self.chars):  # near the right edge: end at the bar instead
                text = label + arrow
                at = cells.start - len(label)
            if at >= 0 and self._free(max(0, at - 1), len(text) + 1):
                self._write(at, text, style)
                placed = True
        return placed

    def _free(self, at: int, n: int) -> bool:
        return at + n <= len(self.chars) and all(c == " " for c in self.chars[at : at + n])

    def _write(self, at: int, text: str, style: str) -> None:
        for i, ch in enumerate(text):
            self.chars[at + i] = ch
            self.styles[at + i] = style

    def text(self) -> Text:
        out = Text()
        for ch, style in zip(self.chars, self.styles, strict=True):
            out.append(ch, style=style or None)
        return out


def _axis(scale: _Scale, chars: Charset) -> list[Text]:
    span_ms = scale.span / 1e6
    step = tick_step(span_ms, max(2, scale.columns // 12))
    line = [chars.axis] * scale.columns
    numbers = [" "] * scale.columns
    value = 0.0
    while value <= span_ms:
        column = min(scale.columns - 1, int(value * 1e6 * scale.columns / scale.span))
        line[column] = chars.tick
        label = f"{value:g}"
        at = column if column + len(label) <= scale.columns else scale.columns - len(label)
        if all(c == " " for c in numbers[max(0, at - 1) : at + len(label)]):
            numbers[at : at + len(label)] = label
        value += step
    return [
        Text(" " * (LABEL + 1) + "".join(line)),
        Text("time (ms)".ljust(LABEL + 1) + "".join(numbers)),
    ]


def _sparkline(series: Series, scale: _Scale, peak: int, chars: Charset) -> Text:
    """Each column shows the most the curve reached during that column's slice of time."""
    out = []
    points = series.points
    i = 0
    value = 0
    for column in range(scale.columns):
        end = scale.t(column + 1)
        most = value
        while i < len(points) and points[i][0] < end:
            value = points[i][1]
            most = max(most, value)
            i += 1
        level = 0 if peak == 0 else math.ceil(most * (len(chars.levels) - 1) / peak)
        out.append(chars.levels[level])
    return Text("".join(out), style="dim")


def _callouts(labels: list[tuple[range, str, str]], scale: _Scale, chars: Charset) -> list[Text]:
    """A row under a lane naming its narrow bars (one label per path), or no row at all."""
    once = {label: (cells, label, style) for cells, label, style in reversed(labels)}
    row = _Row(scale.columns)
    if not row.callouts(sorted(once.values(), key=lambda x: x[0].start), chars.arrow):
        return []
    return [_label("") + row.text()]


def _label(text: str) -> Text:
    shown = text if len(text) <= LABEL else text[: LABEL - 1] + "…"
    return Text(shown.ljust(LABEL + 1), style="bold")


def _worker(
    timeline: Timeline,
    worker: Worker,
    scale: _Scale,
    chars: Charset,
    colours: dict[str, str],
    max_rows: int,
    max_threads: int,
) -> list[Text]:
    lines: list[Text] = []
    threads = [lane for lane in worker.lanes if not lane.loop]
    for lane in worker.lanes:
        if not lane.loop:
            continue
        bars = timeline.requests_on(lane)
        depth = max((b.row for b in bars), default=-1) + 1
        rows = [_Row(scale.columns) for _ in range(min(depth, max_rows) or 1)]
        for n, bar in enumerate(bars):
            if bar.row < len(rows):
                path = bar.record.path
                cells = scale.cells(bar.start_ns, bar.end_ns)
                rows[bar.row].bar(cells, chars.fills[n % 2], colours[path], path)
        for i, row in enumerate(rows):
            left = row.place_labels()
            name = lane.name if i == 0 else ""
            lines.append(_label(name) + row.text())
            lines.extend(_callouts(left, scale, chars))
        if depth > max_rows:
            hidden = sum(1 for b in bars if b.row >= max_rows)
            lines.append(_label(f"  +{hidden} deeper reqs"))
        stalls = [s for s in timeline.stalls if s.lane == lane.key]
        if stalls:
            # The watchdog's stalls, under the loop they froze, each named by its culprit.
            row = _Row(scale.columns)
            for stall in stalls:
                row.bar(
                    scale.cells(stall.block.start_ns, stall.block.end_ns),
                    chars.stall,
                    "bold red",
                    "",
                )
            lines.append(_label("  loop stalled") + row.text())
            for stall in stalls:  # too long to fit beside the bar: one line each, below it
                said = Text(f"{chars.stall} {stall.label}", style="red")
                said.truncate(scale.columns, overflow="ellipsis")
                lines.append(_label("") + said)
    for lane in threads[:max_threads]:
        row = _Row(scale.columns)
        for n, hop in enumerate(timeline.hops_on(lane)):
            cells = scale.cells(hop.start_ns, hop.end_ns)
            row.bar(cells, chars.fills[n % 2], colours[hop.path], hop.path)
        left = row.place_labels()
        lines.append(_label(f"  {lane.name}") + row.text())
        lines.extend(_callouts(left, scale, chars))
    if len(threads) > max_threads:
        lines.append(_label(f"  +{len(threads) - max_threads} more threads"))
    peak = worker.in_flight.peak
    lines.append(
        _label(f"  in flight (max {peak})") + _sparkline(worker.in_flight, scale, peak, chars)
    )
    for pool in worker.pools:
        peak = pool.busy.peak
        lines.append(_pool_label(pool) + _sparkline(pool.busy, scale, peak, chars))
    return lines


def _pool_label(pool: PoolCurve) -> Text:
    """`  anyio 12/40`: the name cut, never the counts, when the label column is too narrow."""
    counts = f" {pool.busy.peak}/{pool.shown_size}"
    room = LABEL - 2 - len(counts)
    name = pool.name if len(pool.name) <= room else pool.name[: max(room - 1, 0)] + "…"
    return _label(f"  {name}{counts}")


def render(
    timeline: Timeline,
    *,
    width: int = 100,
    charset: Charset = UNICODE,
    max_rows: int = 4,
    max_threads: int = 16,
) -> Text:
    """The timeline as styled text at most `width` columns wide (print `.plain` for no colour)."""
    if not timeline.workers:
        return Text("timeline: no records")
    scale = _Scale(timeline, max(10, width - LABEL - 1))
    colours: dict[str, str] = {}
    for bar in timeline.requests:
        colours.setdefault(bar.record.path, PALETTE[len(colours) % len(PALETTE)])
    ms_per_column = timeline.duration_ns / scale.columns / 1e6
    head = (
        f"timeline: {len(timeline.requests)} requests, {len(timeline.hops)} hops, "
        f"{len(timeline.workers)} worker(s), {timeline.duration_ns / 1e6:.1f} ms "
        f"({ms_per_column:.3g} ms a column)"
    )
    title = Text(head)
    title.truncate(width, overflow="ellipsis")  # on a terminal narrower than the head
    lines = [title]
    for worker in timeline.workers:
        lines.extend(_worker(timeline, worker, scale, charset, colours, max_rows, max_threads))
    lines.extend(_axis(scale, charset))
    return Text("\n").join(lines)
