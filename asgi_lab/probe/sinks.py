"""Where finished records go: a bounded ring per worker, and sinks that never wait on each other.

Theory of operation
-------------------
The loop thread hands each finished record to `RecordWriter.put`: one `deque.append` (atomic
under the GIL), or, when the buffer already holds `capacity` records because the writer fell
behind, a counter bump instead. It never blocks and never waits for a lock.

The writer thread wakes every `interval` seconds (sooner on close), takes everything buffered,
turns each record into its frozen `RecordData` once, and appends the batch to each sink's own
lane: a bounded queue with a thread of its own. Building, formatting, file I/O and logging never
run on the loop, and a slow or stuck sink (a log read by nobody, a collector that never answers)
fills only its own lane: its later records are counted as dropped while the others go on.
Memory stays bounded whatever a consumer does: `capacity` records in the buffer and in each lane.

Nothing is lost silently. Records dropped for want of room, in the buffer or in a lane, are
counted (`dropped`, and per lane `Lane.dropped`), logged at most once per `WARN_EVERY` seconds,
and announced in the next record that reaches each sink (its `dropped` field). A sink that fails
is logged and stopped; the others go on, the ring still has the records, and no request ever
fails for a sink's sake.

`close()` drains the buffer and the lanes and closes the sinks within its timeout; a sink still
stuck then is abandoned with the count of what it never wrote, never waited for longer. The probe
calls it on lifespan shutdown; as a fallback it runs at exit, and on a SIGTERM that would kill the
worker outright (hypercorn's, see `exits.py`). A SIGKILLed worker loses what was still buffered:
at most `interval` seconds of records (and a lane's backlog). With a `Ledger`
(`records/ledger.py`), `put` counts each record where the kill cannot take the count, and `close`
marks the ledger closed last, so a reader can tell a death from a clean stop and count what the
dead worker never wrote.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Protocol

from asgi_lab.probe import exits
from asgi_lab.probe.faults import fault
from asgi_lab.probe.record import Record
from asgi_lab.records.ledger import Ledger
from asgi_lab.records.schema import RecordData

__all__ = ["WARN_EVERY", "Lane", "RecordRing", "RecordWriter", "Sink"]

logger = logging.getLogger("asgi_lab.probe")

#: At most one warning about dropped records per this many seconds, per lane.
WARN_EVERY = 10.0


class RecordRing:
    """The last `size` records of this worker, newest last; appends are O(1) and thread-safe."""

    def __init__(self, size: int = 1000) -> None:
        if size < 1:
            raise ValueError(f"ring size must be a positive integer, got {size!r}")
        self._records: deque[Record] = deque(maxlen=size)
        self.append = self._records.append

    @property
    def size(self) -> int:
        return self._records.maxlen or 0

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[Record]:
        return iter(list(self._records))

    def recent(self, limit: int | None = None) -> list[Record]:
        """The newest `limit` records, oldest first."""
        records = list(self._records)
        if limit is not None:
            records = records[-limit:] if limit > 0 else []
        return records


class Sink(Protocol):
    """Something a lane feeds; every method runs on that lane's own thread."""

    def open(self) -> None: ...

    def write(self, records: Sequence[RecordData]) -> None:
        """Take a batch; the first record's `dropped` counts those lost just before it."""

    def close(self) -> None: ...


class Lane:
    """One sink's bounded queue and its thread: what it is owed, what it lost, how it ended."""

    def __init__(self, sink: Sink, capacity: int) -> None:
        self.sink = sink
        self.capacity = capacity
        self.dropped = 0  # records this sink lost because its queue was full
        self.written = 0  # records this sink took
        self.error: BaseException | None = None
        self.abandoned = 0  # records left in the queue of a sink abandoned on close
        self._queue: deque[RecordData] = deque()
        self._owed = 0  # drops not yet announced to this sink
        self._warning = _Throttle(WARN_EVERY)
        self._wake = threading.Event()
        self._closing = False
        self._writing = False  # a batch is taken off the queue and not yet written
        self.thread = threading.Thread(
            target=self._run, name=f"asgi-lab-sink {type(sink).__name__}", daemon=True
        )

    def __repr__(self) -> str:
        return repr(self.sink)

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def idle(self) -> bool:
        """Everything offered so far is written (or the sink has failed)."""
        return self.error is not None or not (self._writing or self._queue)

    def offer(self, batch: list[RecordData], lost: int) -> None:
        """Queue a batch (writer thread); what does not fit is counted; `lost` records were
        dropped before the lanes, for every sink."""
        self._owed += lost
        room = self.capacity - len(self._queue)
        if room < len(batch):
            missed = len(batch) - max(room, 0)
            self.dropped += missed
            self._owed += missed
            self._warn(missed)
            batch = batch[: max(room, 0)]
        if batch:
            owed, self._owed = self._owed, 0
            if owed:
                batch[0] = dataclasses.replace(batch[0], dropped=batch[0].dropped + owed)
            self._queue.extend(batch)
            self._wake.set()

    def _warn(self, missed: int) -> None:
        if self._warning.due():
            logger.warning(
                "%s falls behind: %d records dropped so far (queue of %d)",
                self.sink,
                self.dropped,
                self.capacity,
            )

    def _run(self) -> None:
        try:
            self.sink.open()
            while True:
                self._wake.wait()
                self._wake.clear()
                queue = self._queue
                self._writing = True  # before the queue empties: `idle` never sees a gap
                batch = [queue.popleft() for _ in range(len(queue))]
                if batch:
                    self.sink.write(batch)
                    self.written += len(batch)
                self._writing = False
                if self._closing and not self._queue:
                    break
            self.sink.close()
        except Exception as exc:  # a full disk, a closed stream, a broken handler
            # Said before it is known: whoever waits on `error` finds the message logged.
            logger.error("%s stopped, records kept in memory only: %s", self.sink, exc)
            self._queue.clear()
            self.error = exc

    def finish(self) -> None:
        """Write what is queued, then close the sink (the thread ends by itself)."""
        self._closing = True
        self._wake.set()


class RecordWriter:
    """The writer thread of one probe: records into `RecordData`, then into each sink's lane."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        *,
        interval: float = 0.05,
        capacity: int = 10_000,
        ledger: Ledger | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
        self.lanes = [Lane(sink, capacity) for sink in sinks]
        self.interval = interval
        self.capacity = capacity
        self.ledger = ledger
        self.dropped = 0  # records lost before the lanes because the buffer was full
        self.written = 0  # records handed to the lanes so far
        self._buffer: deque[Record] = deque()
        self._announced = 0  # buffer drops already handed to the lanes
        self._warning = _Throttle(WARN_EVERY)
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._draining = False  # a batch is out of the buffer and not yet in the lanes

    @property
    def sinks(self) -> list[Sink]:
        """The sinks still working."""
        return [lane.sink for lane in self.lanes if lane.error is None]

    @property
    def error(self) -> BaseException | None:
        """The last sink failure, if any."""
        errors = [lane.error for lane in self.lanes if lane.error is not None]
        return errors[-1] if errors else None

    def put(self, record: Record) -> None:
        """Buffer a finished record for the sinks; on the loop thread, so never blocks."""
        if self._closed:
            return
        if self._thread is None:
            self._start()
        if self.ledger is not None:
            self.ledger.count()  # before the buffer: the count is never behind the file
        if len(self._buffer) < self.capacity:
            self._buffer.append(record)
        else:
            self.dropped += 1

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait, at most `timeout` seconds, until every record put so far has reached every
        working sink; False if some had not by then. Blocking: call it off the loop."""
        deadline = time.monotonic() + timeout
        while not self._settled():
            if time.monotonic() >= deadline or not self.running:
                return self._settled()
            time.sleep(min(self.interval, 0.005))
        return True

    def _settled(self) -> bool:
        # Read in the order records travel: a batch between two places is never missed.
        if self._buffer or self._draining:
            return False
        return all(lane.idle for lane in self.lanes)

    def join(self, timeout: float) -> None:
        """Wait, at most `timeout` seconds, for the writer thread to end (after a close, or once
        every sink has failed)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            for lane in self.lanes:
                lane.thread.start()
            self._thread = threading.Thread(target=self._run, name="asgi-lab-writer", daemon=True)
            self._thread.start()
            atexit.register(self.close)
            exits.register(self)

    def _run(self) -> None:
        while True:
            closing = self._wake.wait(self.interval)
            self._drain()
            if closing or not any(lane.error is None for lane in self.lanes):
                break
        if not any(lane.error is None for lane in self.lanes):
            # Nothing left to feed: stop taking records rather than buffer them for nobody.
            self._closed = True
            self._buffer.clear()

    def _drain(self) -> None:
        buffer = self._buffer
        self._draining = True  # before the buffer empties: `flush` never sees a gap
        try:
            self._hand_over([buffer.popleft() for _ in range(len(buffer))])
        finally:
            self._draining = False

    def _hand_over(self, batch: list[Record]) -> None:
        lost = self.dropped - self._announced
        if not batch:
            return
        self._announced += lost
        if lost and self._warning.due():
            logger.warning(
                "writer buffer full: %d records dropped so far (capacity %d)",
                self.dropped,
                self.capacity,
            )
        data = _frozen(batch)
        for lane in self.lanes:
            if lane.error is None:
                lane.offer(list(data), lost)
        self.written += len(batch)

    def close(self, timeout: float = 2.0) -> None:
        """Write everything buffered so far, close the sinks and stop the threads, within
        `timeout` seconds in all; a sink still stuck then is abandoned with the count of what it
        never wrote. Later records are dropped. Blocking: call it off the loop."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is None:
            if self.ledger is not None:
                self.ledger.close()
            return
        deadline = time.monotonic() + timeout
        self._wake.set()
        thread.join(max(0.0, deadline - time.monotonic()))
        for lane in self.lanes:
            lane.finish()
        for lane in self.lanes:
            lane.thread.join(max(0.0, deadline - time.monotonic()))
            if lane.alive:
                lane.abandoned = lane.queued
                logger.error(
                    "%s did not finish within %.1f s: abandoned with %d records unwritten",
                    lane.sink,
                    timeout,
                    lane.abandoned,
                )
        if self.ledger is not None:
            self.ledger.close()  # last: everything that could be written is
        atexit.unregister(self.close)
        exits.unregister(self)


class _Throttle:
    """Says yes at most once per `every` seconds: warnings about losses, not one per record."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._last: float | None = None

    def due(self) -> bool:
        now = time.monotonic()
        if self._last is not None and now - self._last < self.every:
            return False
        self._last = now
        return True


def _frozen(batch: Sequence[Record]) -> list[RecordData]:
    """The batch as `RecordData`; a record that cannot be turned is a fault of the probe's,
    counted and left out (see `faults.py`), never a reason to lose the others."""
    out = []
    for record in batch:
        try:
            out.append(record.data())
        except Exception as exc:
            fault("record", exc)
    return out
