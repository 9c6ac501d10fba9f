"""A FastAPI app with each classic way to block the loop, each beside a clean twin doing the
same work the right way. Lines that block end with `# BLOCKS`; the tests find them there."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.responses import StreamingResponse

from asgi_lab.types import ASGIApp, Receive, Scope, Send

BLOCK = 0.12  # seconds each blocking call takes
HOLD = 0.3
COUNT = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
COUNT += "SELECT count(*) FROM c"
ROWS = 700_000  # over a hundred ms of SQLite's own C code

DB = Path(tempfile.gettempdir()) / "asgi-lab-blockers.sqlite3"


class Pause:
    """Pure-ASGI middleware: blocks (or awaits) before the app for the /mw paths."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/mw/blocking":
            time.sleep(BLOCK)  # BLOCKS
        elif scope["type"] == "http" and scope["path"] == "/mw/clean":
            await asyncio.sleep(BLOCK)
        await self.app(scope, receive, send)


app = FastAPI()
app.add_middleware(Pause)


@app.get("/mw/blocking")
@app.get("/mw/clean")
async def passed_through() -> dict[str, bool]:
    return {"ok": True}


@app.get("/sleep/blocking")
async def sleep_blocking() -> dict[str, bool]:
    time.sleep(BLOCK)  # BLOCKS
    return {"ok": True}


@app.get("/sleep/clean")
async def sleep_clean() -> dict[str, bool]:
    await asyncio.sleep(BLOCK)
    return {"ok": True}


async def count_on_the_loop() -> int:
    with sqlite3.connect(DB) as db:
        return int(db.execute(COUNT, (ROWS,)).fetchone()[0])  # BLOCKS


def count_in_a_thread() -> int:
    with sqlite3.connect(DB) as db:
        return int(db.execute(COUNT, (ROWS,)).fetchone()[0])


@app.get("/db/blocking")
async def db_blocking(rows: Annotated[int, Depends(count_on_the_loop)]) -> dict[str, int]:
    return {"rows": rows}


@app.get("/db/clean")
async def db_clean(rows: Annotated[int, Depends(count_in_a_thread)]) -> dict[str, int]:
    return {"rows": rows}


def spin(seconds: float) -> int:
    loops = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        loops += 1
    return loops


@app.get("/cpu/blocking")
async def cpu_blocking() -> dict[str, int]:
    loops = 0
    deadline = time.perf_counter() + BLOCK
    while time.perf_counter() < deadline:  # BLOCKS
        loops += 1  # BLOCKS
    return {"loops": loops}


@app.get("/cpu/own")
async def cpu_own(ms: float = 60.0) -> dict[str, int]:
    """On the loop, `ms` of the loop thread's own CPU time: under the watchdog's threshold
    when the process has a core, a long stall when it is held off the CPU."""
    loops = 0
    until = time.thread_time() + min(ms, 1000.0) / 1000
    while time.thread_time() < until:
        loops += 1
    return {"loops": loops}


@app.get("/cpu/clean")
def cpu_clean(seconds: float = BLOCK) -> dict[str, int]:
    return {"loops": spin(seconds)}


async def body(blocking: bool) -> AsyncIterator[bytes]:
    yield b"first\n"
    if blocking:
        time.sleep(BLOCK)  # BLOCKS
    else:
        await asyncio.sleep(BLOCK)
    yield b"second\n"


@app.get("/stream/blocking")
async def stream_blocking() -> StreamingResponse:
    return StreamingResponse(body(True))


@app.get("/stream/clean")
async def stream_clean() -> StreamingResponse:
    return StreamingResponse(body(False))


lock = threading.Lock()
held = threading.Event()


@app.get("/lock/hold")
def hold_the_lock() -> dict[str, bool]:
    """On a worker thread: take the lock, say so, keep it for HOLD seconds (longer than the
    others: the loop's wait starts only once it has heard the lock is taken)."""
    with lock:
        held.set()
        time.sleep(HOLD)
    held.clear()
    return {"held": True}


async def wait_until_held() -> None:
    if not await anyio.to_thread.run_sync(held.wait, 10):
        raise TimeoutError("/lock/hold never took the lock")


@app.get("/lock/blocking")
async def lock_blocking() -> dict[str, bool]:
    await wait_until_held()
    lock.acquire()  # BLOCKS
    lock.release()
    return {"ok": True}


@app.get("/lock/clean")
async def lock_clean() -> dict[str, bool]:
    await wait_until_held()
    await anyio.to_thread.run_sync(lock.acquire)
    lock.release()
    return {"ok": True}


ticking = asyncio.Event()
told_to_stop = asyncio.Event()


@app.get("/ticker")
async def ticker(ticks: int = 100) -> dict[str, Any]:
    """A bystander: 2 ms awaits, ready to run through any stall, `ticks` of them at most or
    until /ticker/stop (sent once the request it sits beside is answered)."""
    told_to_stop.clear()
    ticking.set()
    done = 0
    try:
        while done < ticks and not told_to_stop.is_set():
            await asyncio.sleep(0.002)
            done += 1
    finally:
        ticking.clear()
    return {"ticks": done}


@app.get("/ticker/stop")
async def ticker_stop() -> dict[str, bool]:
    """Ends the running ticker at its next tick: what it sat beside is over, so a client need
    not wait out a fixed count of ticks."""
    told_to_stop.set()
    return {"stopped": True}


@app.get("/ticker/running")
async def ticker_running() -> dict[str, bool]:
    """Answers once a ticker is running on this worker: a client sends its culprit after this,
    so the bystander is in flight on the server, not still on its way."""
    await asyncio.wait_for(ticking.wait(), 10)
    return {"running": True}
