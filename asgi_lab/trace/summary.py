"""What the records of a traced run say, in a few tables: who served the requests, the pools
the hops went through, which routes were slow and what they waited for, by cause, and every stall
of a loop with the request (or none: a startup's) and the line that caused it.

Requests are grouped by route, as the framework names it (`GET /api/recipes/{slug}`, see
`RecordData.route`), so a thousand slugs make one row. A worker is one row, its threads counted
by pool. Cells wrap at spaces and after a `/` (`console.Wrapped`): no word is cut in two.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from asgi_lab.console import Wrapped
from asgi_lab.records.lines import Trace
from asgi_lab.records.schema import BlockData, RecordData
from asgi_lab.redact import printable
from asgi_lab.timeline.model import pool_curves

__all__ = ["route_key", "summary"]

SLOWEST = 8


def _ms(ns: float) -> str:
    return f"{ns / 1e6:.1f}"


def route_key(record: RecordData) -> str:
    """`GET /api/recipes/{slug}`: the method and the route (the path, for older records)."""
    return printable(f"{record.method} {record.route or record.path}")


def _threads(records: Sequence[RecordData]) -> str:
    """`loop + 12 threads (anyio 11, default-executor 1)`: the worker's threads that ran a
    hop, by the pool they ran it for."""
    by_pool: defaultdict[str, set[int]] = defaultdict(set)
    for r in records:
        for h in r.hops:
            if h.thread is not None:
                by_pool[h.pool.name].add(h.thread.native_id)
    loops = len({r.loop.id for r in records})
    text = "loop" if loops == 1 else f"{loops} loops"
    threads = len(set().union(*by_pool.values())) if by_pool else 0
    if threads:
        # "executor:reports" as the log line writes it: a name that can wrap at its space.
        pools = ", ".join(
            f"{name.replace(':', ' ')} {len(ids)}" for name, ids in sorted(by_pool.items())
        )
        text += f" + {threads} thread{'s' if threads > 1 else ''} ({pools})"
    return text


def served(records: Sequence[RecordData]) -> Table:
    """One row per worker: its loop, its threads, and where its handlers ran."""
    table = Table(title="who served the requests", title_justify="left")
    for column in ("worker", "loop", "threads", "requests", "handler on the loop", "in a thread"):
        if column in ("loop", "threads"):
            table.add_column(column, ratio=1 if column == "loop" else 3)
        else:  # a number under a header that wraps at its spaces: the room goes to the threads
            table.add_column(column, justify="right", max_width=9)
    by_pid: defaultdict[int, list[RecordData]] = defaultdict(list)
    for r in records:
        by_pid[r.pid].append(r)
    for pid, mine in sorted(by_pid.items()):
        loops = ", ".join(sorted({f"{r.loop.id} ({r.loop.impl})" for r in mine}))
        threaded = sum(r.handler.in_threadpool for r in mine)
        table.add_row(
            str(pid),
            Wrapped(loops),
            Wrapped(_threads(mine)),
            str(len(mine)),
            str(len(mine) - threaded),
            str(threaded),
        )
    return table


def pools(records: Sequence[RecordData]) -> RenderableType:
    """Per worker, each pool its hops went through: its size, and how full it got.

    "running at most" is read from the hops' own times (the timelines' pool curves, the same
    count); "queued at most" is the most calls a hop found waiting when it was submitted; "max
    queued ms" the longest a hop waited to start (for a thread, and for the loop to hand it over:
    the slowest routes say which).
    """
    by_pid: defaultdict[int, list[RecordData]] = defaultdict(list)
    for r in records:
        by_pid[r.pid].append(r)
    table = Table(title="pools the hops went through", title_justify="left")
    for column in ("worker", "pool", "size", "hops", "running at most", "queued at most"):
        table.add_column(column, justify="left" if column in ("worker", "pool") else "right")
    table.add_column("max queued ms", justify="right")
    for pid, group in sorted(by_pid.items()):
        for curve in pool_curves(group):
            hops = [h for r in group for h in r.hops if h.pool.name == curve.name]
            running = f"{curve.busy.peak}" + (" (in flight)" if curve.processes else "")
            table.add_row(
                str(pid),
                Wrapped(printable(curve.name)),
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
    """The routes with the slowest requests, and the longest wait of each cause among them."""
    table = Table(title="slowest routes", title_justify="left")
    columns = ("route", "requests", "median ms", "max ms", "full pool", "loop", "stall")
    for column in columns:
        table.add_column(column, justify="left" if column == "route" else "right")
    by_route: defaultdict[str, list[RecordData]] = defaultdict(list)
    for r in records:
        by_route[route_key(r)].append(r)
    ranked = sorted(by_route.items(), key=lambda kv: -max(r.duration_ns for r in kv[1]))
    for route, group in ranked[:SLOWEST]:
        durations = [r.duration_ns for r in group]
        table.add_row(
            Wrapped(route),
            str(len(group)),
            _ms(statistics.median(durations)),
            _ms(max(durations)),
            _ms(max(r.waits.pool_ns for r in group)),
            _ms(max(r.waits.loop_ns for r in group)),
            _ms(max(r.waits.stall_ns for r in group)),
        )
    table.caption = (
        "the last three: the longest a request of the route waited, in ms, for a full pool's "
        "token or thread, for the loop to run it, and behind a stalled loop"
    )
    return table


def waits(records: Sequence[RecordData]) -> Text:
    """`waited, summed over 60 requests: full pool 0.0 ms, loop 182.3 ms, ...`."""
    pool = sum(r.waits.pool_ns for r in records)
    loop = sum(r.waits.loop_ns for r in records)
    stall = sum(r.waits.stall_ns for r in records)
    behind = sum(1 for r in records if r.waited_on)
    return Text(
        f"waited, summed over {len(records)} requests: for a full pool {_ms(pool)} ms, for the "
        f"loop {_ms(loop)} ms, behind a stall {_ms(stall)} ms ({behind} requests)"
    )


def stalls(
    records: Sequence[RecordData], unclaimed: Sequence[tuple[int, BlockData]] = ()
) -> RenderableType:
    """Every loop stall: the culprit request and line, and how many requests waited; then the
    stalls no request was running in, each said to be at startup (before the worker's first
    request), between requests, or at shutdown (after its last)."""
    waited: defaultdict[str, int] = defaultdict(int)
    starved = 0
    for r in records:
        starved += any(w.kind == "starved" for w in r.waited_on)
        for w in r.waited_on:
            if w.request is not None:
                waited[w.request] += 1
    blocks = [(r, b) for r in records for b in r.blocks]
    if not blocks and not starved and not unclaimed:
        return Text("no loop stalls past the watchdog's threshold")
    table = Table(title="loop stalls (the watchdog)", title_justify="left")
    for column in ("ms", "request", "line", "bystanders"):
        table.add_column(column, justify="right" if column in ("ms", "bystanders") else "left")
    for r, b in sorted(blocks, key=lambda rb: -rb[1].ms):
        request = printable(f"{r.method} {r.path} ({r.id})")
        line = b.frame.where() + (
            f", awaited by {' <- '.join(b.awaited_by)}" if b.awaited_by else ""
        )
        table.add_row(f"{b.ms:.0f}", Wrapped(request), Wrapped(printable(line)), str(waited[r.id]))
    for pid, b in unclaimed:
        when = _when(b, [r for r in records if r.pid == pid])
        table.add_row(
            f"{b.ms:.0f}", Wrapped(f"no request ({when}, worker {pid})"),
            Wrapped(printable(b.frame.where())), "0",
        )  # fmt: skip
    if starved:
        table.caption = f"{starved} request(s) waited on a starved loop (no request to blame)"
    return table


def _when(block: BlockData, mine: Sequence[RecordData]) -> str:
    if not mine or block.end_ns <= min(r.start_ns for r in mine):
        return "startup"
    return "shutdown" if block.start_ns >= max(r.end_ns for r in mine) else "between requests"


def summary(
    records: Sequence[RecordData],
    trace: Trace | None = None,
    unclaimed: Sequence[tuple[int, BlockData]] = (),
) -> RenderableType:
    """The whole summary of a traced run; with its `trace`, what it could not read and what
    became of each worker (died, replaced, records never written) too;
    `unclaimed`: the stalls no request was running in, by worker (`records.read_stalls`)."""
    said = trace.losses() if trace is not None else None
    lost = [Text(said)] if said is not None else []
    lost += [Text(printable(s)) for s in (trace.workers() if trace is not None else [])]
    if not records:
        parts: list[RenderableType] = [Text("no requests were served"), *lost]
        if unclaimed:
            parts.append(stalls(records, unclaimed))
        return Group(*parts)
    pids = sorted({r.pid for r in records})
    head = Text(f"{len(records)} requests, {len(pids)} worker(s): {', '.join(map(str, pids))}")
    tables = (served(records), pools(records), slowest(records), stalls(records, unclaimed))
    return Group(head, *lost, waits(records), *tables)
