"""FastAPI `async def` endpoints that send a call off the loop by the asyncio roads, behind the
probe: `asyncio.to_thread`, `run_in_executor` with the default executor, with an own thread
pool, and with a process pool. Each answers where the call ran and the loop's thread."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from fastapi import FastAPI

from asgi_lab.probe import ProbeMiddleware

api = FastAPI()
reports = ThreadPoolExecutor(2, thread_name_prefix="reports")
# spawn: a fork of a process with threads (uvicorn's, the probe's) is unsafe.
processes = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))


@api.get("/to-thread")
async def to_thread() -> dict[str, int]:
    return {"tid": await asyncio.to_thread(threading.get_native_id), **_loop()}


@api.get("/default")
async def default() -> dict[str, int]:
    loop = asyncio.get_running_loop()
    return {"tid": await loop.run_in_executor(None, threading.get_native_id), **_loop()}


@api.get("/own-pool")
async def own_pool() -> dict[str, int]:
    loop = asyncio.get_running_loop()
    return {"tid": await loop.run_in_executor(reports, threading.get_native_id), **_loop()}


@api.get("/process")
async def process() -> dict[str, int]:
    loop = asyncio.get_running_loop()
    return {"pid": await loop.run_in_executor(processes, os.getpid), **_loop()}


def _loop() -> dict[str, int]:
    return {"loop": threading.get_native_id()}


app = ProbeMiddleware(api)
