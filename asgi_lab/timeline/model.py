"""The timeline of a run, as data: lanes per (worker, thread), bars on them, and two curves.

Theory of operation. Every record carries its worker's pid, its loop (and the loop's thread) and
its hops (calls into worker threads, each with the thread that ran it). A lane is one thread of
one worker: first the worker's loop thread, named after the loop, then the threads that ran its
hops, in the order they first ran one. A request is a bar on its loop lane; requests overlap
there (the loop interleaves them), so each gets the lowest sub-row free at its start. A hop is a
bar on the lane of the thread that ran it and keeps its request's id, so every view can link the
two; hops never overlap on one thread. Per worker, step curves: per pool its hops named (anyio,
the default executor, an own executor, a process pool), the calls running in it at each instant
(for a process pool, in flight: from asked for to answered, as the parent sees them; for anyio,
its tokens held: from the start on a thread until the task ran again on the loop, where anyio
gives the token back, so the curve never shows more than a record's `pool.busy` saw), and the
requests in flight. Times stay wall-clock ns, so the workers
of one run share an axis; `Timeline.start_ns` is time zero for the views.

Everything here is pure: records in, frozen data out, nothing printed or read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from asgi_lab.records.overlap import open_over_time
from asgi_lab.records.schema import BlockData, HopData, RecordData

__all__ = [
    "HopBar",
    "Lane",
    "PoolCurve",
    "RequestBar",
    "Series",
    "StallBar",
    "Timeline",
    "Worker",
    "build",
    "pool_curves",
    "steps",
    "tick_step",
]


@dataclass(frozen=True, slots=True)
class Lane:
    """One thread of one worker: its loop thread (`loop=True`) or a thread that ran hops."""

    pid: int
    native_id: int
    name: str
    thread_name: str
    loop: bool

    @property
    def key(self) -> tuple[int, int]:
        return (self.pid, self.native_id)


@dataclass(frozen=True, slots=True)
class RequestBar:
    """A request on its loop lane; `row` is its sub-row there (0 is the top one)."""

    record: RecordData
    lane: tuple[int, int]
    row: int

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def start_ns(self) -> int:
        return self.record.start_ns

    @property
    def end_ns(self) -> int:
        return self.record.end_ns

    @property
    def route(self) -> str:
        """What its colour stands for: the route as the framework names it, else the path."""
        return self.record.route or self.record.path


@dataclass(frozen=True, slots=True)
class HopBar:
    """A call that ran on a worker thread, and the request (`request`, its id) that made it."""

    hop: HopData
    request: str
    path: str
    lane: tuple[int, int]
    index: int  # its place among its request's hops, so (request, index) names it

    @property
    def start_ns(self) -> int:
        return self.hop.start_ns

    @property
    def end_ns(self) -> int:
        return self.hop.end_ns


@dataclass(frozen=True, slots=True)
class StallBar:
    """A stall of a loop, blamed by the watchdog on the request whose record carries it."""

    record: RecordData
    block: BlockData
    lane: tuple[int, int]

    @property
    def label(self) -> str:
        b = self.block
        where = b.frame.where()
        return f"loop blocked {b.ms:.0f} ms by {self.record.method} {self.record.path} at {where}"


@dataclass(frozen=True, slots=True)
class Series:
    """A step curve: `points[i] = (t_ns, value)` holds from `t_ns` until the next point."""

    points: tuple[tuple[int, int], ...]

    @property
    def peak(self) -> int:
        return max((v for _, v in self.points), default=0)

    def at(self, t_ns: int) -> int:
        """The value at `t_ns` (0 before the first point)."""
        value = 0
        for t, v in self.points:
            if t > t_ns:
                break
            value = v
        return value


@dataclass(frozen=True, slots=True)
class PoolCurve:
    """One pool of one worker, as its hops name it: its size when known, its calls over time."""

    name: str
    size: float | None  # the largest size its hops recorded; None when none could tell
    processes: bool  # its calls ran in other processes: `busy` counts them in flight
    busy: Series
    hops: int

    @property
    def shown_size(self) -> str:
        """The size as the views print it: "40", "inf", or "?" when unknown."""
        return "?" if self.size is None else f"{self.size:g}"


@dataclass(frozen=True, slots=True)
class Worker:
    """One worker process: its lanes (loop thread first), its requests' depth, its curves."""

    pid: int
    lanes: tuple[Lane, ...]
    rows: int  # sub-rows its loop lane needs
    pools: tuple[PoolCurve, ...]  # in the order a hop first named each
    in_flight: Series  # requests between start and end

    def pool(self, name: str) -> PoolCurve:
        """The curve of the pool called `name`; `KeyError` when no hop of this worker named it."""
        for curve in self.pools:
            if curve.name == name:
                return curve
        raise KeyError(f"worker {self.pid} has no hop through pool {name!r}")


@dataclass(frozen=True, slots=True)
class Timeline:
    """Everything the views draw. An empty run has no workers and `start_ns == end_ns == 0`."""

    start_ns: int
    end_ns: int
    workers: tuple[Worker, ...]
    requests: tuple[RequestBar, ...]
    hops: tuple[HopBar, ...]
    #: Hops that never started (cancelled while waiting for a token): on no lane. A process
    #: pool's hops are on no lane either (no thread here), but only in their pool's curve.
    unstarted: int
    #: Stalls of a loop the watchdog blamed on a request, on that request's loop lane.
    stalls: tuple[StallBar, ...] = ()

    @property
    def lanes(self) -> tuple[Lane, ...]:
        return tuple(lane for w in self.workers for lane in w.lanes)

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    def routes(self) -> dict[str, str]:
        """Each request's route (`RequestBar.route`), by request id, in the order they began:
        one colour per route in every view, whatever the paths' slugs."""
        return {bar.id: bar.route for bar in self.requests}

    def requests_on(self, lane: Lane) -> list[RequestBar]:
        return [r for r in self.requests if r.lane == lane.key]

    def hops_on(self, lane: Lane) -> list[HopBar]:
        return [h for h in self.hops if h.lane == lane.key]


def steps(intervals: Iterable[tuple[int, int]]) -> Series:
    """How many (start, end) intervals are open over time (`records.overlap`)."""
    return Series(tuple(open_over_time(intervals)))


def tick_step(span_ms: float, ticks: int) -> float:
    """An axis step in ms, 1, 2 or 5 times a power of ten, giving about `ticks` ticks."""
    raw = max(span_ms / max(ticks, 1), 1e-3)
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _sub_rows(records: Sequence[RecordData]) -> list[int]:
    """The lowest free sub-row for each request in start order (interval partitioning)."""
    ends: list[int] = []  # the end of the last bar on each row
    rows: list[int] = []
    for record in records:
        for row, end in enumerate(ends):
            if end <= record.start_ns:
                ends[row] = record.end_ns
                break
        else:
            row = len(ends)
            ends.append(record.end_ns)
        rows.append(row)
    return rows


def pool_curves(records: Iterable[RecordData]) -> tuple[PoolCurve, ...]:
    """Per pool the hops of `records` went through (one worker's: pools are per process), the
    calls running in it over time; a hop that never started counts nowhere."""
    spans: dict[str, list[tuple[int, int]]] = {}
    sizes: dict[str, list[float]] = {}
    away: dict[str, bool] = {}
    for record in sorted(records, key=lambda r: (r.start_ns, r.id)):
        for hop in record.hops:
            pool = hop.pool
            if pool.processes:
                span = (hop.called_ns, hop.end_ns)  # the parent never sees it start
            elif hop.thread is not None and pool.name.startswith("anyio"):
                # anyio gives a token back only when the task runs again on the loop: an
                # answer waiting for a busy loop still holds one (older records: its end).
                span = (hop.start_ns, max(hop.resumed_ns, hop.end_ns))
            elif hop.thread is not None:
                span = (hop.start_ns, hop.end_ns)
            else:
                continue
            spans.setdefault(pool.name, []).append(span)
            sizes.setdefault(pool.name, [])
            if pool.size is not None:
                sizes[pool.name].append(pool.size)
            away[pool.name] = pool.processes
    return tuple(
        PoolCurve(name, max(sizes[name], default=None), away[name], steps(found), len(found))
        for name, found in spans.items()
    )


def _loop_lane(record: RecordData) -> Lane:
    loop = record.loop
    return Lane(
        record.pid,
        loop.thread.native_id,
        f"loop {loop.id} ({loop.impl})",
        loop.thread.name,
        loop=True,
    )


def build(records: Iterable[RecordData]) -> Timeline:
    """The timeline of `records`, from any trace directory, experiment or app."""
    ordered = sorted(records, key=lambda r: (r.start_ns, r.id))
    if not ordered:
        return Timeline(0, 0, (), (), (), 0)
    by_pid: dict[int, list[RecordData]] = {}
    for record in ordered:
        by_pid.setdefault(record.pid, []).append(record)

    workers: list[Worker] = []
    requests: list[RequestBar] = []
    hops: list[HopBar] = []
    unstarted = 0
    for pid in sorted(by_pid):
        mine = by_pid[pid]
        lanes: dict[tuple[int, int], Lane] = {}
        for record in mine:
            lane = _loop_lane(record)
            lanes.setdefault(lane.key, lane)
        # A worker thread's lane appears when it first runs a hop, so waves read top to bottom.
        started = sorted(
            (h.start_ns, r.id, i, r, h, h.thread)
            for r in mine
            for i, h in enumerate(r.hops)
            if h.thread is not None
        )
        for _, _, index, record, hop, thread in started:
            key = (pid, thread.native_id)
            if key not in lanes:
                name = f"thread {thread.native_id}"
                lanes[key] = Lane(pid, thread.native_id, name, thread.name, loop=False)
            hops.append(HopBar(hop, record.id, record.path, key, index))
        unstarted += sum(
            1 for r in mine for h in r.hops if h.thread is None and not h.pool.processes
        )

        # Several loops in one worker (rare: a loop per thread) each get their own rows.
        depth = 0
        for loop_key in [k for k, lane in lanes.items() if lane.loop]:
            on_loop = [r for r in mine if (pid, r.loop.thread.native_id) == loop_key]
            rows = _sub_rows(on_loop)
            requests.extend(
                RequestBar(r, loop_key, row) for r, row in zip(on_loop, rows, strict=True)
            )
            depth = max(depth, max(rows) + 1)

        ordered_lanes = [lane for lane in lanes.values() if lane.loop]
        ordered_lanes += [lane for lane in lanes.values() if not lane.loop]
        workers.append(
            Worker(
                pid,
                tuple(ordered_lanes),
                depth,
                pools=pool_curves(mine),
                in_flight=steps((r.start_ns, r.end_ns) for r in mine),
            )
        )

    start = min([r.start_ns for r in ordered] + [h.start_ns for h in hops])
    end = max([r.end_ns for r in ordered] + [h.end_ns for h in hops])
    stalls = tuple(
        StallBar(r, b, (r.pid, r.loop.thread.native_id))
        for r in ordered
        for b in r.blocks
        if b.start_ns  # older records do not say when
    )
    return Timeline(start, end, tuple(workers), tuple(requests), tuple(hops), unstarted, stalls)
