"""The timeline as Chrome Trace Event JSON, for ui.perfetto.dev or chrome://tracing.

One process per worker pid, one thread track per lane (the loop thread named after its loop).
Hops are complete (`X`) events on the threads that ran them: they never overlap on one thread,
as the format requires. Requests overlap on the loop thread, so they are async slices (`b`/`e`,
keyed by `cat` and the request's id). A flow (`s` on the loop thread when the request asked for
a thread, `f` binding to the enclosing hop) links each request to each of its hops. Counters
(`C`) per worker: per pool its calls running ("pool anyio (size 40)"; a process pool's in flight)
and requests in flight. Times are whole microseconds
of the wall clock (a float cannot hold today's epoch in ns or fractional µs exactly, and
flooring both ends keeps back-to-back hops from overlapping), so several workers line up.
"""

from __future__ import annotations

import json
from typing import Any

from asgi_lab.timeline.model import Series, Timeline

__all__ = ["dumps", "events"]

Event = dict[str, Any]


def _us(t_ns: int) -> int:
    return t_ns // 1000


def _counter(name: str, key: str, series: Series, pid: int, tid: int) -> list[Event]:
    return [
        {"ph": "C", "name": name, "pid": pid, "tid": tid, "ts": _us(t), "args": {key: value}}
        for t, value in series.points
    ]


def events(timeline: Timeline) -> list[Event]:
    """Every trace event of `timeline`: metadata first, then slices, flows and counters."""
    out: list[Event] = []
    loop_tid: dict[int, int] = {}
    for index, worker in enumerate(timeline.workers):
        pid = worker.pid
        out.append(
            {"ph": "M", "name": "process_name", "pid": pid, "args": {"name": f"worker {pid}"}}
        )
        out.append(
            {"ph": "M", "name": "process_sort_index", "pid": pid, "args": {"sort_index": index}}
        )
        for order, lane in enumerate(worker.lanes):
            name = lane.name if lane.loop else f"{lane.name} ({lane.thread_name})"
            tid = lane.native_id
            if lane.loop:
                loop_tid.setdefault(pid, tid)
            meta = {"pid": pid, "tid": tid}
            out.append({"ph": "M", "name": "thread_name", **meta, "args": {"name": name}})
            out.append(
                {"ph": "M", "name": "thread_sort_index", **meta, "args": {"sort_index": order}}
            )

    for bar in timeline.requests:
        r = bar.record
        where = {"pid": r.pid, "tid": bar.lane[1], "cat": "request", "id": r.id}
        name = f"{r.method} {r.path}"
        args = {
            "id": r.id,
            "status": r.status,
            "duration_ms": r.duration_ns / 1e6,
            "waited_for_a_full_pool_ms": r.waits.pool_ns / 1e6,
            "waited_for_the_loop_ms": r.waits.loop_ns / 1e6,
            "waited_behind_a_stall_ms": r.waits.stall_ns / 1e6,
            "tokens_borrowed_at_arrival": r.threadpool.borrowed,
            "hops": len(r.hops),
        }
        out.append({"ph": "b", "name": name, "ts": _us(r.start_ns), **where, "args": args})
        out.append({"ph": "e", "name": name, "ts": _us(r.end_ns), **where})

    loops = {bar.id: bar.lane for bar in timeline.requests}
    for flow_id, hop in enumerate(timeline.hops, 1):
        pid, tid = hop.lane
        start, end = _us(hop.start_ns), _us(hop.end_ns)
        out.append(
            {
                "ph": "X",
                "name": hop.hop.call,
                "cat": "hop",
                "pid": pid,
                "tid": tid,
                "ts": start,
                "dur": end - start,
                "args": {
                    "request": hop.request,
                    "path": hop.path,
                    "queued_ms": hop.hop.queued_ns / 1e6,
                    "pool": hop.hop.pool.to_json(),
                },
            }
        )
        source = loops[hop.request]
        # The arrow leaves the request when it asked for a thread and lands on the hop's start.
        called = min(max(_us(hop.hop.called_ns), 0), start)
        common = {"name": "to thread", "cat": "hop-flow", "id": flow_id}
        out.append({"ph": "s", **common, "pid": source[0], "tid": source[1], "ts": called})
        out.append({"ph": "f", "bp": "e", **common, "pid": pid, "tid": tid, "ts": start})

    for worker in timeline.workers:
        tid = loop_tid[worker.pid]
        for pool in worker.pools:
            name = f"pool {pool.name} (size {pool.shown_size})"
            key = "in flight" if pool.processes else "running"
            out += _counter(name, key, pool.busy, worker.pid, tid)
        out += _counter("requests in flight", "requests", worker.in_flight, worker.pid, tid)
    return out


def dumps(timeline: Timeline) -> str:
    """The JSON object form (`traceEvents`), one event a line so a diff stays readable."""
    lines = ",\n".join(json.dumps(e, separators=(",", ":")) for e in events(timeline))
    return '{"displayTimeUnit":"ms","traceEvents":[\n' + lines + "\n]}\n"
