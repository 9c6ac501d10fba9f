"""What the records of a traced run say, in a few tables: who served what, the pools the hops
went through, what was slow, who waited for a token, and every stall of a loop with the request
and the line that caused it."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from asgi_lab.records.lines import Trace
from asgi_lab.records.schema import RecordData
from asgi_lab.redact import printable
from asgi_lab.timeline.model import pool_curves

__all__ = ["summary"]

SLOWEST = 8


def _ms(ns: float) -> str:
    return f"{ns / 1e6:.1f}"


def handler_pool(record: RecordData) -> str:
    """The pool of the hop that ran the handler, "" when it ran on the loop."""
    if not record.handler.in_threadpool:
        return ""
    ran = record.handler.thread.native_id
    for hop in record.hops:
        if hop.endpoint and hop.thread is not None and hop.thread.native_id == ran:
            return hop.pool.name
    return "?"


def served(records: Sequence[RecordData]) -> Table:
    """Requests per worker, loop, handler thread and the pool that thread belongs to."""
    table = Table(title="who served the requests", title_justify="left")
    for column in ("worker", "loop", "handler thread", "requests", "in a pool"):
        table.add_column(column, justify="right" if column in ("requests",) else "left")
    counts: Counter[tuple[int, str, str, str]] = Counter()
    for r in records:
        thread = printable(f"#{r.handler.thread.native_id} {r.handler.thread.name}")
        counts[(r.pid, f"{r.loop.id} ({r.loop.impl})", thread, handler_pool(r))] += 1
    for (pid, loop, thread, pool), n in sorted(counts.items()):
        shown = f"yes ({printable(pool)})" if pool else "no (the loop)"
        table.add_row(str(pid), loop, thread, str(n), shown)
    return table


def pools(records: Sequence[RecordData]) -> RenderableType:
    """Per worker, each pool its hops went through: its size, and how full it got.

    "running at most" is read from the hops' own times (the timelines' pool curves, the same
    count); "queued at most" is the most calls a hop found waiting when it was submitted.
    """
    by_pid: defaultdict[int, list[RecordData]] = defaultdict(list)
    for r in records:
        by_pid[r.pid].append(r)
    table = Table(title="pools the hops went through", title_justify="left")
    for column in ("worker", "pool", "size", "hops", "running at most", "queued at most"):
        table.add_column(column, justify="left" if column in ("worker", "pool") else "right")
    table.add_column("max wait ms", justify="right")
    for pid, group in sorted(by_pid.items()):
        for curve in pool_curves(group):
            hops = [h for r in group for h in r.hops if h.pool.name == curve.name]
            running = f"{curve.busy.peak}" + (" (in flight)" if curve.processes else "")
            table.add_row(
                str(pid),
                printable(curve.name),
                curve.shown_size,
                str(curve.hops),
                running,
                str(max(h.pool.queued for h in hops)),
                _ms(max(h.queued_ns for h in hops)),
            )
    if not table.row_count:
        return Text("no hops: every handler ran on its loop")
    return table


def slowest(records: Sequence[RecordData]) -> Table:
    """The paths with the slowest requests, and how long their requests waited for tokens."""
    table = Table(title="slowest paths", title_justify="left")
    for column in ("path", "requests", "median ms", "max ms", "max token wait ms"):
        # A long path wraps within its cell rather than losing its end.
        left = column == "path"
        table.add_column(column, justify="left" if left else "right", overflow="fold")
    by_path: defaultdict[str, list[RecordData]] = defaultdict(list)
    for r in records:
        by_path[printable(f"{r.method} {r.path}")].append(r)
    ranked = sorted(by_path.items(), key=lambda kv: -max(r.duration_ns for r in kv[1]))
    for path, group in ranked[:SLOWEST]:
        durations = [r.duration_ns for r in group]
        table.add_row(
            path,
            str(len(group)),
            _ms(statistics.median(durations)),
            _ms(max(durations)),
            _ms(max(r.threadpool.wait_ns for r in group)),
        )
    return table


def stalls(records: Sequence[RecordData]) -> RenderableType:
    """Every loop stall: the culprit request and line, and how many requests waited."""
    waited: defaultdict[str, int] = defaultdict(int)
    starved = 0
    for r in records:
        for w in r.waited_on:
            if w.kind == "starved":
                starved += 1
            elif w.request is not None:
                waited[w.request] += 1
    blocks = [(r, b) for r in records for b in r.blocks]
    if not blocks and not starved:
        return Text("no loop stalls past the watchdog's threshold")
    table = Table(title="loop stalls (the watchdog)", title_justify="left")
    for column in ("ms", "request", "line", "bystanders"):
        # The culprit's file:line wraps within its cell: cut short, it would not say where.
        right = column in ("ms", "bystanders")
        table.add_column(column, justify="right" if right else "left", overflow="fold")
    for r, b in sorted(blocks, key=lambda rb: -rb[1].ms):
        where = b.frame.where()
        request = printable(f"{r.method} {r.path} ({r.id})")
        table.add_row(f"{b.ms:.0f}", request, printable(where), str(waited[r.id]))
    if starved:
        table.caption = f"{starved} request(s) waited on a starved loop (no request to blame)"
    return table


def summary(records: Sequence[RecordData], trace: Trace | None = None) -> RenderableType:
    """The whole summary of a traced run; with its `trace`, what it could not read too."""
    said = trace.losses() if trace is not None else None
    lost = Text(said) if said is not None else None
    if not records:
        return Group(*(x for x in (Text("no requests were served"), lost) if x is not None))
    pids = sorted({r.pid for r in records})
    head = Text(f"{len(records)} requests, {len(pids)} worker(s): {', '.join(map(str, pids))}")
    parts: list[RenderableType] = [head, *([lost] if lost is not None else []), served(records)]
    return Group(*parts, pools(records), slowest(records), stalls(records))
