"""The worker's side of the live page: a snapshot of this worker, five times a second, sent as one
datagram to the socket the parent named in $ASGI_LAB_LIVE.

Theory of operation
-------------------
The publisher is a daemon thread of its own; the loop never does any of its work. Every
`INTERVAL` seconds it reads what the probe already keeps, without a lock the loop would wait on:

- the requests in flight on each loop: the watchdog's map of tasks to records (copied whole, one
  C call under the GIL), so the live page costs the request path nothing more than the watchdog
  does. `--live` turns the watchdog on (at 100 ms) when it was off;
- where each one is: a hop started and not ended names the thread holding it and its pool; a hop
  not yet started is queued for its pool; otherwise the request is on the loop;
- the pools: anyio's default limiter of each loop (its public `borrowed_tokens`, `total_tokens`
  and `statistics()`), and every executor pool seen in a hop, with the counts it keeps live;
- each loop's lag (the watchdog's heartbeat), the stall going on now with the request and line of
  its latest sample, and the stalls that ended (the `blocks` of records in flight and of records
  finished since the last snapshot, read from the ring);
- the requests begun per second (the probe's request count).

The datagram goes to a non-blocking Unix datagram socket: when the parent is slow its queue fills
and the snapshot is dropped (counted in `dropped`), when it is gone the send fails and is counted
too. Nothing is queued here, so a stuck parent never grows a worker's memory or blocks it.
"""

from __future__ import annotations

import collections
import os
import socket
import threading
import time
import weakref
from typing import TYPE_CHECKING, Protocol

from asgi_lab.probe.faults import fault
from asgi_lab.probe.identity import tasks_waiting
from asgi_lab.probe.pools import Pool
from asgi_lab.probe.record import Record
from asgi_lab.records.schema import BlockData, FrameData
from asgi_lab.records.snapshot import (
    INTERVAL,
    MAX_REQUESTS,
    MAX_STALLS,
    MAX_TEXT,
    VERSION,
    LoopNow,
    PoolNow,
    RequestNow,
    Snapshot,
    StallNow,
    encode,
)
from asgi_lab.redact import printable, userinfo

if TYPE_CHECKING:
    from asgi_lab.probe.identity import LoopInfo
    from asgi_lab.probe.sinks import RecordRing
    from asgi_lab.probe.watchdog import Watchdog


class Watched(Protocol):
    """What the publisher reads of a probe (`ProbeMiddleware` is one): no arrow back up to it."""

    @property
    def watchdogs(self) -> dict[str, Watchdog]: ...

    @property
    def loops(self) -> dict[str, LoopInfo]: ...

    @property
    def ring(self) -> RecordRing: ...

    @property
    def requests_begun(self) -> int: ...


__all__ = ["Publisher", "Watched"]

#: The block_ms the watchdog runs at when --live turned it on.
WATCHDOG_MS = 100.0


def _text(value: str) -> str:
    shown = printable(value)
    return shown if len(shown) <= MAX_TEXT else shown[: MAX_TEXT - 1] + "…"


class Publisher:
    """Sends a snapshot of `probe`'s worker to the datagram socket at `path`, off the loop."""

    def __init__(self, probe: Watched, path: str, *, interval: float = INTERVAL) -> None:
        self.probe = probe
        self.path = path
        self.interval = interval
        self.sent = 0
        self.dropped = 0  # snapshots the parent's socket would not take
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        # Executor pools met in hops: their live counts are read while they exist.
        self._pools: weakref.WeakSet[Pool] = weakref.WeakSet()
        self._stalls: collections.deque[StallNow] = collections.deque(maxlen=MAX_STALLS)
        self._seen: collections.deque[tuple[str, int]] = collections.deque(maxlen=4 * MAX_STALLS)
        self._last: Record | None = None  # the newest finished record already looked at
        self._begun: collections.deque[tuple[float, int]] = collections.deque()

    def start(self) -> None:
        if self._thread is not None:
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        self._socket = sock
        self._thread = threading.Thread(target=self._run, name="asgi-lab-live", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sending (a blocking join of at most one interval; not on a running loop)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2 * self.interval + 1)
        if self._socket is not None:
            self._socket.close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                data = encode(self.snapshot())
            except Exception as exc:  # an observer never fails its worker
                fault("live", exc)
                continue
            self.send(data)

    def send(self, data: bytes) -> bool:
        """One datagram to the parent, or a count of the one it would not take."""
        sock = self._socket
        if sock is None:
            return False
        try:
            sock.sendto(data, self.path)
        except OSError:  # full (EAGAIN, ENOBUFS), gone (ENOENT, ECONNREFUSED), too big
            self.dropped += 1
            return False
        self.sent += 1
        return True

    # What the snapshot reads; every part from this thread, none of it waits on the loop.

    def snapshot(self) -> Snapshot:
        """This worker now."""
        probe = self.probe
        now_ns, now = time.time_ns(), time.monotonic()
        watchdogs = probe.watchdogs.copy()
        in_flight: dict[int, Record] = {}
        for dog in watchdogs.values():
            for one in dog.requests.copy().values():
                if not one.end_ns:  # a task a request left behind outlives its record
                    in_flight[id(one)] = one
        records = sorted(in_flight.values(), key=lambda r: r.start_ns)
        loops: list[LoopNow] = []
        pools: list[PoolNow] = []
        for loop_id, loop in probe.loops.copy().items():
            watch = watchdogs.get(loop_id)
            lag = stall = None
            if watch is not None:
                lag = round(max(0.0, now - watch.last_beat - watch.beat) * 1000, 1)
                open_stall = watch.stall
                if open_stall is not None:
                    record, line = open_stall.suspect()
                    ms = (now - open_stall.start_mono) * 1000
                    stall = _stall(loop_id, open_stall.start_ns, ms, "stalling", record, line)
            loops.append(LoopNow(id=loop_id, impl=loop.data.impl, lag_ms=lag, stall=stall))
            limiter = loop.limiter
            borrowed = limiter.borrowed_tokens
            total = limiter.total_tokens
            pools.append(
                PoolNow(
                    name="anyio",
                    loop=loop_id,
                    size=total if total != float("inf") else None,
                    busy=borrowed,
                    queued=tasks_waiting(limiter, borrowed, total),
                )
            )
        requests = [self._request(r, now_ns) for r in records[:MAX_REQUESTS]]
        for pool in list(self._pools):
            pools.append(
                PoolNow(
                    name=pool.name, loop=None, size=pool.size, busy=pool.busy, queued=pool.queued
                )
            )
        self._ended(records)
        return Snapshot(
            v=VERSION,
            pid=os.getpid(),
            ppid=os.getppid(),
            at_ns=now_ns,
            loops=loops,
            pools=pools,
            in_flight=len(records),
            requests=requests,
            requests_total=probe.requests_begun,
            rps=self._rate(now, probe.requests_begun),
            stalls=list(self._stalls),
            dropped=self.dropped,
        )

    def _request(self, record: Record, now_ns: int) -> RequestNow:
        state, thread, pool = "loop", None, None
        for hop in reversed(list(record.hops)):
            if hop.end_ns:
                continue
            if isinstance(hop.pool, Pool):
                self._pools.add(hop.pool)
            if hop.thread is not None and hop.start_ns:
                state, thread, pool = "thread", hop.thread, str(hop.pool)
            elif not hop.start_ns and not hop.processes:
                state, pool = "queued", str(hop.pool)
            else:
                state, pool = "thread", str(hop.pool)  # another process runs it
            break
        return RequestNow(
            id=record.id,
            method=_text(record.method),
            path=_text(userinfo(record.path)),
            age_ms=round((now_ns - record.start_ns) / 1e6, 1),
            loop=record.loop.id,
            state=state,
            thread=None if thread is None else {"name": _text(thread.name), "id": thread.native_id},
            pool=pool,
        )

    def _ended(self, in_flight: list[Record]) -> None:
        """Note the stalls that ended since the last snapshot: the blocks of the requests in
        flight and of those finished since (the ring's newest, back to the last one seen)."""
        finished = self.probe.ring.recent()
        fresh: list[Record] = []
        for record in reversed(finished):
            if record is self._last:
                break
            fresh.append(record)
        if finished:
            self._last = finished[-1]
        for record in [*reversed(fresh), *in_flight]:
            for block in list(record.blocks):
                self._note(record, block)

    def _note(self, record: Record, block: BlockData) -> None:
        key = (record.id, block.start_ns)
        if key in self._seen:
            return
        self._seen.append(key)
        self._stalls.append(
            _stall(record.loop.id, block.start_ns, block.ms, block.kind, record, block.frame)
        )

    def _rate(self, now: float, begun: int) -> float:
        """Requests begun per second over the last second (or since the first snapshot)."""
        window = self._begun
        window.append((now, begun))
        while len(window) > 2 and now - window[1][0] >= 1.0:
            window.popleft()
        then, before = window[0]
        return round((begun - before) / (now - then), 1) if now > then else 0.0


def _stall(
    loop: str, at_ns: int, ms: float, kind: str, record: Record | None, line: FrameData | None
) -> StallNow:
    return StallNow(
        loop=loop,
        at_ns=at_ns,
        ms=round(ms, 1),
        kind=kind,
        request=None if record is None else record.id,
        method=None if record is None else _text(record.method),
        path=None if record is None else _text(userinfo(record.path)),
        line=None if line is None else _text(line.where()),
    )
