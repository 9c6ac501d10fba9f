"""Every road off the loop, for the offload experiment: `async def` endpoints that send the same
work away by each road, on the FastAPI-like framework.

- `/offload/sleep/anyio`: `anyio.to_thread.run_sync`, as Starlette does for a `def` endpoint
  (40 tokens unless $ASGI_LAB_THREADS says otherwise).
- `/offload/sleep/to-thread`: `asyncio.to_thread`, the loop's default executor
  (`min(32, cpus + 4)` threads).
- `/offload/sleep/executor`: `loop.run_in_executor` on an own `ThreadPoolExecutor(4)`.
- `/offload/processes`: the process pool's pids, read by the experiment's CPU meter.
- `/offload/cpu/threads`, `/offload/cpu/processes`: pure-Python work on that pool of 4 threads,
  or on a `ProcessPoolExecutor` of 2 processes (spawned: a fork of a process with threads is
  unsafe), started at startup so that no request waits for an interpreter to start.

Each answers the thread (and process) that did the work. The pools live as long as the worker:
made in the lifespan, shut down at its end, off the loop.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import anyio.to_thread

from asgi_lab import catalogue
from asgi_lab.burn import burn
from asgi_lab.framework import FastAPI, HTTPException, Query
from asgi_lab.probe import ProbeMiddleware

__all__ = ["PROCESSES", "THREADS", "api", "app", "work"]

LAYER = "offload"
#: The own thread pool's size, and the process pool's.
THREADS = 4
PROCESSES = 2
Seconds = Annotated[float, Query(ge=0, le=30)]
Milliseconds = Annotated[int, Query(ge=0, le=5000)]


def where() -> dict[str, int]:
    """The thread and process this runs on."""
    return {"thread": threading.get_native_id(), "pid": os.getpid()}


def nap(seconds: float) -> dict[str, int]:
    """The blocking call every road sends away: a sleep, holding its thread."""
    time.sleep(seconds)
    return where()


def work(ms: int) -> dict[str, int]:
    """Pure-Python work of a fixed size (`burn`): holds the GIL of the process it runs in."""
    burn(ms)
    return where()


@dataclass
class Pools:
    threads: ThreadPoolExecutor
    #: None where this worker may not start processes, `unavailable` saying why.
    processes: ProcessPoolExecutor | None
    unavailable: str | None = None


_pools: Pools | None = None


def pools() -> Pools:
    if _pools is None:
        raise HTTPException(503, "the pools are not made: run the app's lifespan first")
    return _pools


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[dict[str, Any]]:
    global _pools
    state = catalogue.startup(LAYER)
    context = multiprocessing.get_context("spawn")
    processes = ProcessPoolExecutor(PROCESSES, mp_context=context)
    made = Pools(ThreadPoolExecutor(THREADS, thread_name_prefix="offload"), processes)
    loop = asyncio.get_running_loop()
    # Submitted together, each call finds no idle process and starts one, which imports this
    # module to run `work`: both are ready before the first request.
    try:
        await asyncio.gather(*(loop.run_in_executor(processes, work, 0) for _ in range(PROCESSES)))
    except AssertionError as exc:
        # multiprocessing refuses children to a daemonic process, as hypercorn's workers are:
        # a server's property, said by the app rather than failing its startup.
        await anyio.to_thread.run_sync(processes.shutdown)
        made = Pools(made.threads, None, f"this worker cannot start processes: {exc}")
    _pools = made
    try:
        yield state
    finally:
        _pools = None
        # Joining threads and processes blocks: not on the loop.
        await anyio.to_thread.run_sync(made.threads.shutdown)
        if made.processes is not None:
            await anyio.to_thread.run_sync(made.processes.shutdown)


api = FastAPI(lifespan=lifespan)


def answer(endpoint: str, ran: dict[str, int], **fields: Any) -> dict[str, Any]:
    """The catalogue's reply, with where the work ran; `served_by` is the loop's, the caller's."""
    return catalogue.reply(LAYER, endpoint, ran=ran, **fields)


@api.get("/offload/sleep/anyio")
async def sleep_anyio(seconds: Seconds = 0) -> dict[str, Any]:
    return answer("offload/sleep/anyio", await anyio.to_thread.run_sync(nap, seconds))


@api.get("/offload/sleep/to-thread")
async def sleep_to_thread(seconds: Seconds = 0) -> dict[str, Any]:
    return answer("offload/sleep/to-thread", await asyncio.to_thread(nap, seconds))


@api.get("/offload/sleep/executor")
async def sleep_executor(seconds: Seconds = 0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    ran = await loop.run_in_executor(pools().threads, nap, seconds)
    return answer("offload/sleep/executor", ran)


@api.get("/offload/cpu/threads")
async def cpu_threads(ms: Milliseconds = 0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    return answer("offload/cpu/threads", await loop.run_in_executor(pools().threads, work, ms))


@api.get("/offload/cpu/processes")
async def cpu_processes(ms: Milliseconds = 0) -> dict[str, Any]:
    made = pools()
    if made.processes is None:
        raise HTTPException(503, made.unavailable)
    loop = asyncio.get_running_loop()
    ran = await loop.run_in_executor(made.processes, work, ms)
    return answer("offload/cpu/processes", ran)


@api.get("/offload/processes")
async def processes() -> dict[str, Any]:
    """The pids of the process pool's workers (and nothing else: no hop)."""
    return catalogue.reply(LAYER, "offload/processes", pids=pids(), unavailable=pools().unavailable)


def pids() -> list[int]:
    return sorted(p.pid for p in multiprocessing.active_children() if p.pid is not None)


#: What `uvicorn asgi_lab.lab.apps.offload:app` serves, with the probe around it.
app = ProbeMiddleware(api)
