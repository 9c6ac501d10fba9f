"""Where records go: a bounded ring per worker, and JSON lines written by a background thread."""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from asgi_lab.probe.record import Record

__all__ = ["JsonLinesWriter", "RecordRing"]

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

    def recent(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The newest `limit` records as JSON-ready dicts, oldest first."""
        records = list(self._records)
        if limit is not None:
            records = records[-limit:] if limit > 0 else []
        return [r.as_dict() for r in records]


_STOP = object()


class JsonLinesWriter:
    """One JSON line per record, written off the event loop.

    The loop thread only puts the record on a `SimpleQueue` (a C call, no lock held for long).
    A daemon thread opens the file, wakes on the first record, waits `interval` seconds for more
    to gather so a busy worker writes in batches, then formats and writes them all. `close()`
    drains the queue and flushes; it runs on lifespan shutdown and, as a fallback, at exit.

    `target` is a directory, created if missing, where each process writes
    `records-<pid>.jsonl` (so workers never share a file), or an open text stream. If the file
    cannot be opened or written, the writer logs it once (logger `asgi_lab.probe`) and drops
    later records: the ring still has them, and requests are never failed for the trace's sake.
    """

    def __init__(self, target: str | os.PathLike[str] | IO[str], *, interval: float = 0.05):
        self._target = target
        self._interval = interval
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        # Set once, never cleared: closed by shutdown, or broken by an I/O error.
        self._done = False
        self.error: BaseException | None = None
        self.path: Path | None = None
        self.written = 0

    def put(self, record: Record) -> None:
        if self._done:
            return
        if self._thread is None:
            self._start()
        self._queue.put(record)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._done:
                return
            self._thread = threading.Thread(target=self._run, name="asgi-lab-writer", daemon=True)
            self._thread.start()
            atexit.register(self.close)

    def _open(self) -> IO[str]:
        target = self._target
        if not isinstance(target, str | os.PathLike):
            return target
        directory = Path(target)
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"records-{os.getpid()}.jsonl"
        return self.path.open("a", encoding="utf-8")

    def _run(self) -> None:
        try:
            stream = self._open()
        except OSError as exc:
            self._fail(exc)
            return
        get = self._queue.get
        stopping = False
        try:
            while not stopping:
                batch = [get()]
                # Let a busy worker's records gather so we format and write them in one go;
                # close() sets the event, so shutdown never waits out the interval.
                self._closed.wait(self._interval)
                while True:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                lines = []
                for item in batch:
                    if item is _STOP:
                        stopping = True
                    else:
                        lines.append(item.json_line())
                if lines:
                    stream.write("".join(lines))
                    stream.flush()
                    self.written += len(lines)
        except Exception as exc:  # a full disk, a closed stream: stop, say so, drop the rest
            self._fail(exc)
        finally:
            if stream is not self._target:
                stream.close()

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        self._done = True
        where = self.path or self._target
        logger.error("JSON-lines writer stopped, records kept in memory only: %s: %s", where, exc)

    def close(self, timeout: float = 5.0) -> None:
        """Write everything queued so far, then stop the writer thread; later records are
        dropped."""
        with self._lock:
            self._done = True
            thread = self._thread
        if thread is None or not thread.is_alive():
            return
        self._closed.set()
        self._queue.put(_STOP)
        thread.join(timeout)
        atexit.unregister(self.close)
