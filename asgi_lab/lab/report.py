"""Reports: a result as a table of verdicts and of who served what, a tour summary, progress."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import TextIO

from asgi_lab.lab.experiment import Result
from asgi_lab.lab.records import Observed, Served
from asgi_lab.lab.verdicts import Verdict
from asgi_lab.probe.schema import RecordData
from asgi_lab.timeline import build, terminal

__all__ = ["StderrProgress", "by_phase", "render", "served_table", "summary", "table"]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, indent: str = "  ") -> str:
    """Columns padded to their widest cell; numbers-looking columns stay left-aligned too."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = [indent + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    for row in rows:
        lines.append(indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(line.rstrip() for line in lines)


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
        return f"{verdict.low:.3f}..{verdict.high:.2f}"
    return f"<= {verdict.high:.2f}"


#: A report line should fit a terminal and a docs page without scrolling, when it can.
WIDTH = 100


def _ids(values: Sequence[object], limit: int) -> str:
    shown = ",".join(str(v) for v in values[:limit])
    return shown + (f",+{len(values) - limit}" if len(values) > limit else "")


def served_table(served: Sequence[Served]) -> str:
    """Who served what, a row per phase and path; an id cell lists up to 4 ids, then a count of
    the rest, and fewer ids when that is what it takes to fit `WIDTH` (four workers do)."""
    headers = ["phase", "path", "reqs", "pids", "loops", "loop thread", "handler threads"]
    tables = []
    for limit in (4, 3, 2, 1):
        rows = [
            [
                s.phase,
                s.path,
                str(s.requests),
                _ids(s.pids, limit),
                _ids(s.loops, limit),
                _ids(s.loop_threads, limit),
                _ids(s.handler_threads, limit),
                f"{s.in_threadpool}/{s.requests}",
            ]
            for s in served
        ]
        tables.append(table([*headers, "in pool"], rows))
        if max(len(line) for line in tables[-1].splitlines()) <= WIDTH:
            return tables[-1]
    # Too wide even with one id a cell (long phase names): then show the most.
    return tables[0]


def by_phase(observed: Sequence[Observed]) -> dict[str, list[RecordData]]:
    """Records per phase, phases in the order they ran: each phase is its own server."""
    phases: dict[str, list[RecordData]] = {}
    for seen in observed:
        phases.setdefault(seen.phase, []).append(seen.record)
    return phases


def timelines(result: Result, charset: terminal.Charset) -> list[str]:
    """One terminal timeline per phase: phases ran one after another on different servers."""
    out = []
    for phase, records in by_phase(result.records).items():
        out.append("")
        out.append(f"  phase {phase}:")
        out.append(terminal.render(build(records), charset=charset).plain)
    return out


def render(result: Result, *, charset: terminal.Charset | None = None) -> str:
    """The whole report of one experiment, ending with its timelines.

    `charset` defaults to Unicode blocks if standard output can encode them, else ASCII.
    """
    if charset is None:
        charset = terminal.charset_for(sys.stdout.encoding)
    out = [f"== {result.name}: {result.title}"]
    out.append(f"   layer {result.layer}, scale {result.scale:g}, took {result.seconds:.1f} s")
    if result.verdicts:
        rows = [
            [
                v.claim,
                quantity(v.measured, v.unit),
                quantity(v.bound, v.unit),
                ratio(v),
                accepts(v),
                "PASS" if v.passed else "FAIL",
            ]
            for v in result.verdicts
        ]
        out.append("")
        out.append(table(["claim", "measured", "bound", "ratio", "accepts", "verdict"], rows))
        notes = [(i + 1, v.note) for i, v in enumerate(result.verdicts) if v.note]
        if notes:
            out.append("  bounds: " + "; ".join(f"({i}) {n}" for i, n in notes))
    if result.facts:
        out.append("")
        width = max(len(label) for label, _ in result.facts)
        out.extend(f"  {label.ljust(width)}  {value}" for label, value in result.facts)
    served = result.served()
    if served:
        out.append("")
        out.append("  served by (from the probe records of every worker):")
        out.append(served_table(served))
    if result.error:
        out.append("")
        out.append(f"  ERROR: {result.error}")
    out.append("")
    out.append(f"  => {'PASS' if result.passed else 'FAIL'}")
    out.extend(timelines(result, charset))
    return "\n".join(out)


def summary(results: Sequence[Result], seconds: float) -> str:
    """One screen: each experiment, its verdicts passed, its worst timing ratio."""
    rows = []
    for r in results:
        passed = sum(v.passed for v in r.verdicts)
        # The timing verdict closest to (or furthest past) its own limit.
        timing = [v for v in r.verdicts if v.timing]
        closest = max(timing, key=lambda v: v.ratio / v.high, default=None)
        worst = "-"
        if closest is not None and not math.isinf(closest.ratio):
            worst = f"{closest.ratio:.3f} ({accepts(closest)})"
        status = "PASS" if r.passed else ("ERROR" if r.error else "FAIL")
        title = r.title if len(r.title) <= 56 else r.title[:55] + "…"
        rows.append(
            [r.name, f"{passed}/{len(r.verdicts)}", worst, f"{r.seconds:.1f} s", status, title]
        )
    ok = sum(r.passed for r in results)
    lines = [
        table(["experiment", "verdicts", "worst ratio", "took", "result", "what it shows"], rows),
        "",
        f"  {ok}/{len(results)} experiments passed in {seconds:.1f} s",
    ]
    return "\n".join(lines)


class StderrProgress:
    """Progress as plain lines on stderr, so stdout keeps only the report."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled

    def __call__(self, message: str) -> None:
        if self.enabled:
            stream = self.stream or sys.stderr
            print(message, file=stream, flush=True)
