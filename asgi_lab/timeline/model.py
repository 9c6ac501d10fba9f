"""The timeline of a run, as data: lanes per (worker, thread), bars on them, and two curves.

Theory of operation. Every record carries its worker's pid, its loop (and the loop's thread) and
its hops (calls into worker threads, each with the thread that ran it). A lane is one thread of
one worker: first the worker's loop thread, named after the loop, then the threads that ran its
hops, in the order they first ran one. A request is a bar on its loop lane; requests overlap
there (the loop interleaves them), so each gets the lowest sub-row free at its start. A hop is a
bar on the lane of the thread that ran it and keeps its request's id, so every view can link the
two; hops never overlap on one thread. Per worker, two step curves: anyio's tokens in use and
requests in flight. A hop holds its token until its task runs again on the loop (anyio gives it
back there), not just while its thread runs: an answer waiting for a busy loop keeps its token.
It takes the token a little before its thread starts, at a moment no record says, so the curve
counts it from the start: it never shows more tokens than a record saw at that instant (a hop's
`pool.busy`, a request's `threadpool.borrowed`). Times stay wall-clock ns, so the workers
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
    "RequestBar",
    "Series",
    "StallBar",
    "Timeline",
    "Worker",
    "build",
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
class Worker:
    """One worker process: its lanes (loop thread first), its requests' depth, its curves."""

    pid: int
    lanes: tuple[Lane, ...]
    rows: int  # sub-rows its loop lane needs
    tokens: Series  # anyio's tokens in use
    in_flight: Series  # requests between start and end


@dataclass(frozen=True, slots=True)
class Timeline:
    """Everything the views draw. An empty run has no workers and `start_ns == end_ns == 0`."""

    start_ns: int
    end_ns: int
    workers: tuple[Worker, ...]
    requests: tuple[RequestBar, ...]
    hops: tuple[HopBar, ...]
    #: Hops that never started (cancelled while waiting for a token): on no lane.
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


def _tokens(hops: Iterable[HopData]) -> Iterable[tuple[int, int]]:
    """When each anyio hop surely held a token (see the theory above); older records, which do
    not say when the task ran again, until the hop's end."""
    for h in hops:
        if h.pool.name == "anyio" and h.thread is not None:
            yield h.start_ns, max(h.resumed_ns, h.end_ns)


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
        unstarted += sum(1 for r in mine for h in r.hops if h.thread is None)

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
                tokens=steps(_tokens(h for r in mine for h in r.hops)),
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
