"""Requests still running when their server is told to stop: async ones a cancel can end, sync
ones it cannot (their thread runs on). `/started` says how many have begun."""

from __future__ import annotations

import asyncio
import threading
import time

from fastapi import FastAPI

app = FastAPI()
_started = 0
_lock = threading.Lock()


def _begin() -> None:
    global _started
    with _lock:
        _started += 1


@app.get("/started")
async def started() -> int:
    return _started


@app.get("/async/long")
async def async_long() -> dict[str, bool]:
    _begin()
    await asyncio.sleep(60)  # far past any shutdown's patience: a cancel ends it
    return {"done": True}


@app.get("/sync/long")
def sync_long() -> dict[str, bool]:
    _begin()
    time.sleep(3)  # no cancel reaches a thread: it runs on past the shutdown's patience
    return {"done": True}
