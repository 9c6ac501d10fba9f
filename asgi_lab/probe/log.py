"""A log line per request naming its worker, loop and thread, written off the loop.

    GET /sync/sleep 200 100.4 ms  worker 10199  loop 10199:1 (uvloop)  thread #10250 AnyIO worker
    thread (anyio 1/40 busy)  waited 41.9 ms (full pool 0.0, loop 3.1, behind a stall 38.8:
    blocked by 10199-7)

The waits are the record's `waits`, by cause (see `records/waits.py`); the line says them when
there was any, and names the requests whose stalls it sat through.

The `LogLines` sink runs on the probe's writer thread (see `sinks.py`), so formatting and the
handlers' I/O never touch the loop. Lines go through Python `logging`, logger
`asgi_lab.requests` at INFO, so uvicorn's `--log-config` or your own handlers can route them.
When nothing is configured for that logger or the root logger, the probe adds a handler on
stderr, colouring each worker's pid its own way when stderr is a terminal (or `FORCE_COLOR` is
set) and `NO_COLOR` is unset,
and writes each batch of lines to it in one go (a LogRecord per line only when someone else may
be listening).
"""

from __future__ import annotations

import contextlib
import logging
import select
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from asgi_lab import colour
from asgi_lab.records.encode import json_line
from asgi_lab.records.schema import HopData, RecordData
from asgi_lab.redact import printable

__all__ = ["LOGGER", "LogLines", "as_json", "as_line", "waited"]

#: The logger every request line goes to.
LOGGER = "asgi_lab.requests"

_PALETTE = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan")


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.1f} ms"


def _hop_thread(hop: HopData) -> str:
    if hop.thread is not None:
        return f"#{hop.thread.native_id}"
    return "(another process)" if hop.pool.processes else "(never ran)"


def _pool(hop: HopData) -> str:
    """`executor reports 2/2 busy`: the pool as the hop found it, itself included, never more
    busy than it has (a hop that found every thread out queued, behind those already waiting)."""
    pool = hop.pool
    name = pool.name.replace(":", " ")
    size = pool.size
    if size is None:
        return f"{name} {pool.busy + 1} busy"
    if size == float("inf"):
        return f"{name} {pool.busy + 1}/inf busy"
    total = int(size)
    if pool.busy < total:
        return f"{name} {pool.busy + 1}/{total} busy"
    return f"{name} {total}/{total} busy, queued behind {pool.queued}"


def as_line(record: RecordData) -> str:
    """The request as one line for people: what, how long, and where it ran."""
    loop = record.loop
    thread = record.handler.thread
    where = f"thread #{thread.native_id} {thread.name}"
    if not record.handler.in_threadpool:
        where += " (the loop)"
    else:
        ran = [h for h in record.hops if h.thread is not None and h.thread == thread]
        hop = next((h for h in ran if h.endpoint), ran[-1] if ran else None)
        if hop is not None:
            where += f" ({_pool(hop)})"
    line = (
        f"{record.method} {record.path} {record.status} {_ms(record.duration_ns)}  "
        f"worker {record.pid}  loop {loop.id} ({loop.impl})  {where}"
    )
    if record.waits.total_ns or record.waited_on:
        line += "  " + waited(record)
    if len(record.hops) > 1:
        line += "  hops: " + " → ".join(
            f"{h.call} {_hop_thread(h)} ({h.pool.name})" for h in record.hops
        )
    if record.error is not None:
        line += f"  error: {record.error}"
    # Whatever a client sent (method, path) or a thread was named is printed as text: a CR, an
    # LF or an escape sequence cannot forge a line or drive the terminal.
    return printable(line)


def waited(record: RecordData) -> str:
    """`waited 41.9 ms (full pool 0.0, loop 3.1, behind a stall 38.8: blocked by 4242-3)`."""
    w = record.waits
    text = (
        f"waited {_ms(w.total_ns)} (full pool {w.pool_ns / 1e6:.1f}, loop {w.loop_ns / 1e6:.1f}, "
        f"behind a stall {w.stall_ns / 1e6:.1f}"
    )
    culprits = [x.request for x in record.waited_on if x.request is not None]
    if culprits:
        text += ": blocked by " + ", ".join(dict.fromkeys(culprits))
    if any(x.kind == "starved" for x in record.waited_on):
        text += ", starved" if culprits else ": the loop starved"
    return text + ")"


def as_json(record: RecordData) -> str:
    """The record itself, as its one JSON form (`asgi_lab.records`), for machines."""
    return json_line(record)[:-1]


class _Coloured(logging.Formatter):
    """Colours the worker's pid in a line, one colour per pid (only for our stderr handler)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        pid = getattr(record, "asgi_lab_pid", None)
        return text if pid is None else self.colour(text, pid)

    def colour(self, text: str, pid: int) -> str:
        import click  # uvicorn's own colour library; imported only when colouring

        marker = f"worker {pid}"
        return text.replace(marker, click.style(marker, fg=_PALETTE[pid % len(_PALETTE)]), 1)


_NO_LOCK = contextlib.nullcontext()


def default_handler(stream: Any = None) -> logging.StreamHandler[Any]:
    """A stderr handler for request lines, coloured when stderr is a terminal."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    formatter = (
        _Coloured("%(message)s") if colour.wanted(stream) else logging.Formatter("%(message)s")
    )
    handler.setFormatter(formatter)
    return handler


def _atomic_chunks(lines: list[str]) -> Iterator[str]:
    """The lines, newline-ended, in writes of at most PIPE_BUF bytes where each line fits: a
    pipe takes such a write whole, so workers sharing one (under `asgi-lab trace`) never mix
    their lines mid-line."""
    chunk: list[str] = []
    size = 0
    for line in lines:
        length = len(line.encode()) + 1
        if chunk and size + length > select.PIPE_BUF:
            yield "".join(chunk)
            chunk, size = [], 0
        chunk.append(line + "\n")
        size += length
    if chunk:
        yield "".join(chunk)


class LogLines:
    """A sink logging each record as a line (`mode="line"`) or a JSON object (`mode="json"`)."""

    def __init__(self, mode: str = "line") -> None:
        if mode not in ("line", "json"):
            raise ValueError(f"log mode must be 'line' or 'json', got {mode!r}")
        self.mode = mode
        self.logger = logging.getLogger(LOGGER)
        # The stderr handler the probe added, when nobody configured the logger: then a batch
        # goes out in one write, not a LogRecord, a lock and a flush per line.
        self._own: logging.StreamHandler[Any] | None = None

    def __repr__(self) -> str:
        return f"request log ({self.mode})"

    def open(self) -> None:
        # Only when nobody said where these lines go: then stderr, as uvicorn's own lines.
        if not self.logger.handlers and not logging.getLogger().handlers:
            handler = default_handler()
            self.logger.addHandler(handler)
            self.logger.propagate = False
            self._own = handler
        if self.logger.level == logging.NOTSET:
            self.logger.setLevel(logging.INFO)

    def write(self, records: Sequence[RecordData]) -> None:
        log = self.logger
        if not log.isEnabledFor(logging.INFO):
            return
        render = as_line if self.mode == "line" else as_json
        own = self._own
        if own is not None and log.handlers == [own] and not log.filters:
            formatter = own.formatter
            if isinstance(formatter, _Coloured):
                lines = [formatter.colour(render(r), r.pid) for r in records]
            else:
                lines = [render(r) for r in records]
            with own.lock or _NO_LOCK:
                for chunk in _atomic_chunks(lines):
                    own.stream.write(chunk)
                    own.flush()
            return
        for record in records:
            log.info(render(record), extra={"asgi_lab_pid": record.pid})

    def close(self) -> None:
        for handler in self.logger.handlers:
            handler.flush()
