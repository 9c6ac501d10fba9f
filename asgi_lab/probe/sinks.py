"""Where finished records go: a bounded ring per worker, and sinks fed by one background thread.

Theory of operation
-------------------
The loop thread hands each finished record to `RecordWriter.put`: one `deque.append` (atomic
under the GIL), or, when the buffer already holds `capacity` records because the writer fell
behind, a counter bump instead. It never blocks and never waits for a lock.

The writer thread wakes every `interval` seconds (sooner on close), takes everything buffered,
turns each record into its frozen `RecordData` once, and hands the batch to each sink on its own
thread: building, formatting, file I/O and logging never run on the loop. Sinks read `RecordData`
and nothing else. A sink that fails is logged once (logger `asgi_lab.probe`) and dropped; the
others go on, the ring still has the records, and no request ever fails for a sink's sake.
Records dropped because the buffer was full are counted, logged, and announced in the next
record written (its `dropped` field).

`close()` drains the buffer and closes the sinks; the probe calls it on lifespan shutdown, and
as a fallback it runs at exit. A SIGKILLed worker loses what was still buffered: at most
`interval` seconds of records.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from asgi_lab.probe.faults import fault
from asgi_lab.probe.record import Record
from asgi_lab.records.schema import RecordData

__all__ = ["RecordRing", "RecordWriter", "Sink"]

logger = logging.getLogger("asgi_lab.probe")


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
    """Something the writer thread feeds; every method runs on the writer thread."""

    def open(self) -> None: ...

    def write(self, records: Sequence[RecordData]) -> None:
        """Take a batch; the first record's `dropped` counts those lost just before it."""

    def close(self) -> None: ...


class RecordWriter:
    """One background thread per probe that feeds finished records to its sinks."""

    def __init__(
        self, sinks: Sequence[Sink], *, interval: float = 0.05, capacity: int = 100_000
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
        self.sinks = list(sinks)
        self.interval = interval
        self.capacity = capacity
        self.dropped = 0  # records lost so far because the buffer was full
        self.written = 0  # records handed to the sinks so far
        self.error: BaseException | None = None  # the last sink failure
        self._buffer: deque[Record] = deque()
        self._announced = 0  # dropped records already told to the sinks
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def put(self, record: Record) -> None:
        """Buffer a finished record for the sinks; on the loop thread, so never blocks."""
        if self._closed:
            return
        if self._thread is None:
            self._start()
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

    def join(self, timeout: float) -> None:
        """Wait, at most `timeout` seconds, for the writer thread to end (after a close, or once
        every sink has failed)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._run, name="asgi-lab-writer", daemon=True)
            self._thread.start()
            atexit.register(self.close)

    def _run(self) -> None:
        for sink in list(self.sinks):
            self._guard(sink, sink.open)
        while self.sinks:
            closing = self._wake.wait(self.interval)
            self._drain()
            if closing:
                break
        for sink in self.sinks:
            self._guard(sink, sink.close)

    def _drain(self) -> None:
        buffer = self._buffer
        batch = [buffer.popleft() for _ in range(len(buffer))]
        dropped = self.dropped - self._announced
        if not batch:
            return
        self._announced += dropped
        data = _frozen(batch)
        if dropped and data:
            logger.warning(
                "writer buffer full: %d records dropped (capacity %d)", dropped, self.capacity
            )
            data[0] = dataclasses.replace(data[0], dropped=dropped)
        for sink in list(self.sinks):
            self._guard(sink, sink.write, data)
        self.written += len(batch)

    def _guard(self, sink: Sink, method: Any, *args: Any) -> None:
        try:
            method(*args)
        except Exception as exc:  # a full disk, a closed stream, a broken handler
            self.error = exc
            if sink in self.sinks:
                self.sinks.remove(sink)
            logger.error("%s stopped, records kept in memory only: %s", sink, exc)
            if not self.sinks:
                # Nothing left to feed: stop taking records rather than buffer them for nobody.
                self._closed = True
                self._wake.set()
                self._buffer.clear()

    def close(self, timeout: float = 5.0) -> None:
        """Write everything buffered so far, close the sinks, stop the thread; later records
        are dropped. Blocking: call it off the loop."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is None or not thread.is_alive():
            return
        self._wake.set()
        thread.join(timeout)
        atexit.unregister(self.close)


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
