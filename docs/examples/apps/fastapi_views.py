"""A FastAPI app behind the probe: a `def` endpoint, an `async def` one, and an `async def` that
sends its blocking call away with `asyncio.to_thread`."""

from __future__ import annotations

import asyncio
import threading
import time

from fastapi import FastAPI

from asgi_lab.probe import ProbeMiddleware

api = FastAPI()


@api.get("/sync")
def sync_endpoint(seconds: float = 0) -> dict[str, int]:
    time.sleep(seconds)
    return {"tid": threading.get_native_id()}


@api.get("/async")
async def async_endpoint() -> dict[str, int]:
    return {"tid": threading.get_native_id()}


def nap(seconds: float) -> int:
    time.sleep(seconds)
    return threading.get_native_id()


@api.get("/to-thread")
async def to_thread_endpoint(seconds: float = 0) -> dict[str, int]:
    call = await asyncio.to_thread(nap, seconds)
    return {"tid": threading.get_native_id(), "call": call}


app = ProbeMiddleware(api)
