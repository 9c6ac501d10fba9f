"""What every layer's endpoints do, so the three layers differ only in how they are wired.

Each layer parses the same inputs (`inputs.py`) with the same bounds (`settings.py`), does the
same work here on the same kind of thread, and answers the same JSON, with `served_by` computed on
the thread that ran the handler.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio.to_thread

from asgi_lab import caps, settings
from asgi_lab.burn import burn
from asgi_lab.interpreter import PythonData
from asgi_lab.probe import RecordRing, served_by
from asgi_lab.records.encode import json_line

__all__ = [
    "LAYERS",
    "app_path",
    "async_block",
    "async_cpu",
    "async_sleep",
    "about",
    "lab_records",
    "lifespan",
    "reply",
    "startup",
    "sync_cpu",
    "sync_sleep",
]

#: The ways the catalogue is served; `app_path` says what uvicorn imports for each.
LAYERS = ("raw", "routes", "api", "fastapi")

# "fastapi" is api.py's source built on FastAPI itself; a module named `fastapi` would shadow it.
_MODULES = {"fastapi": "fastapi_layer"}


def app_path(layer: str) -> str:
    """The import string of a layer's probed app: `asgi_lab.routes:app`."""
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {', '.join(LAYERS)}, got {layer!r}")
    return f"asgi_lab.{_MODULES.get(layer, layer)}:app"


def startup(layer: str) -> dict[str, Any]:
    """What every layer does when a worker starts: read the settings (a bad value raises
    `settings.SettingError`), size this loop's threadpool; returns the lifespan state."""
    current = settings.load()
    limiter = anyio.to_thread.current_default_thread_limiter()
    if current.threads is not None:
        limiter.total_tokens = current.threads
    return {"layer": layer, "threads": int(limiter.total_tokens)}


def lifespan(layer: str) -> Callable[[Any], AbstractAsyncContextManager[dict[str, Any]]]:
    """A Starlette/FastAPI `lifespan` that runs `startup(layer)`; the state reaches requests."""

    @asynccontextmanager
    async def run(app: Any) -> AsyncIterator[dict[str, Any]]:
        yield startup(layer)

    return run


def reply(layer: str, endpoint: str, **fields: Any) -> dict[str, Any]:
    """The JSON every endpoint answers; call it on the thread that ran the handler."""
    return {"layer": layer, "endpoint": endpoint, **fields, "served_by": served_by().to_json()}


def about(layer: str) -> dict[str, Any]:
    """The `/` answer: the layer, the Python this worker runs on (the GIL's state read now,
    after every import that could have turned it back on), and `served_by`."""
    python = PythonData.here().to_json()
    return {"layer": layer, "python": python, "served_by": served_by().to_json()}


async def lab_records(layer: str, ring: RecordRing, limit: int) -> bytes:
    """The `/_lab/records` answer, encoded: the newest `limit` records of this worker.

    A thousand records with their hops take tens of milliseconds to turn into JSON, so that is
    done on a worker thread, not on the loop; `served_by` is still read here, on the loop.
    """
    records = ring.recent(limit)
    where = served_by().to_json()
    max_bytes = settings.current().records_max_bytes

    def encode() -> bytes:
        # Newest first until the next would pass the cap: the answer's size is bounded by the
        # setting, not by how big the records grew (hops, blocks), and the reply says so.
        kept: list[bytes] = []
        size = 0
        for record in reversed(records):
            line = json_line(record.data())[:-1].encode()
            if size + len(line) + 2 > max_bytes:
                break
            kept.append(line)
            size += len(line) + 2
        head = {"layer": layer, "endpoint": "_lab/records"}
        tail: dict[str, Any] = {"served_by": where}
        if len(kept) < len(records):
            tail["left_out"] = {
                "records": len(records) - len(kept),
                "max_bytes": max_bytes,
                "setting": settings.VARIABLES["records_max_bytes"],
            }
        return b"".join(
            (
                json.dumps(head).encode()[:-1],
                b', "records": [',
                b", ".join(reversed(kept)),
                b"], ",
                json.dumps(tail).encode()[1:],
            )
        )

    return await anyio.to_thread.run_sync(encode)


# The work itself. Each function is the whole handler body, so it runs on the thread its layer
# puts the handler on: the loop for async ones, a threadpool thread for sync ones.


async def async_sleep(layer: str, secs: float) -> dict[str, Any]:
    """Cooperative: the loop serves other requests while this one waits."""
    started = time.perf_counter()
    await asyncio.sleep(secs)
    return reply(layer, "async/sleep", seconds=secs, took=time.perf_counter() - started)


async def async_block(layer: str, secs: float) -> dict[str, Any]:
    """The classic mistake: `time.sleep` in an async handler freezes the whole loop.

    At most $ASGI_LAB_MAX_BLOCKING such requests per worker queue up to block it; more raise
    `caps.Overloaded` (a 503).
    """
    async with caps.BLOCKING.admitted(settings.current().max_blocking):
        started = time.perf_counter()
        time.sleep(secs)  # noqa: ASYNC251 -- blocking the loop is what this endpoint demonstrates
        return reply(layer, "async/block", seconds=secs, took=time.perf_counter() - started)


def sync_sleep(layer: str, secs: float) -> dict[str, Any]:
    """Blocking, but on a threadpool thread: the loop stays free, one token is held."""
    started = time.perf_counter()
    time.sleep(secs)
    return reply(layer, "sync/sleep", seconds=secs, took=time.perf_counter() - started)


def sync_cpu(layer: str, ms: int) -> dict[str, Any]:
    """Pure-Python work on a threadpool thread: it holds the GIL, so threads do not add up."""
    started = time.perf_counter()
    loops = burn(ms)
    return reply(layer, "sync/cpu", ms=ms, loops=loops, took=time.perf_counter() - started)


async def async_cpu(layer: str, ms: int) -> dict[str, Any]:
    """Pure-Python work on the loop: as blocking as `time.sleep`, and it burns a core."""
    started = time.perf_counter()
    loops = burn(ms)
    return reply(layer, "async/cpu", ms=ms, loops=loops, took=time.perf_counter() - started)
