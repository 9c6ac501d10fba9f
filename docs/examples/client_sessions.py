"""Chapter 5: one aiohttp `ClientSession` per request against one shared by every request, the
same load on the same real server. Connections are counted twice: opened by aiohttp (its trace
hooks) and seen by the server (distinct client ports in the probe's records)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from types import SimpleNamespace
from typing import Any

import aiohttp
import httpx

from asgi_lab.records import RecordData
from asgi_lab.serving import ServerOptions, start

REQUESTS = 200
AT_ONCE = 10
PATH = "/quick"


class Opened:
    """Connections aiohttp opened, counted by its own trace hook."""

    def __init__(self) -> None:
        self.count = 0
        self.config = aiohttp.TraceConfig()
        self.config.on_connection_create_end.append(self.opened)

    async def opened(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceConnectionCreateEndParams,
    ) -> None:
        self.count += 1


async def session_per_request(url: str, opened: Opened) -> None:
    """The mistake: a new session (a new connection pool) for every request."""
    gate = asyncio.Semaphore(AT_ONCE)

    async def one() -> None:
        async with gate, aiohttp.ClientSession(trace_configs=[opened.config]) as session:
            async with session.get(url + PATH) as response:
                await response.read()

    await asyncio.gather(*(one() for _ in range(REQUESTS)))


async def shared_session(url: str, opened: Opened) -> None:
    """One session for the program's life: its pool keeps connections alive between requests."""
    gate = asyncio.Semaphore(AT_ONCE)
    async with aiohttp.ClientSession(trace_configs=[opened.config]) as session:

        async def one() -> None:
            async with gate, session.get(url + PATH) as response:
                await response.read()

        await asyncio.gather(*(one() for _ in range(REQUESTS)))


def records(url: str) -> list[RecordData]:
    """Every record in the worker's ring (1000 at most), read over a connection of its own."""
    answer = httpx.get(f"{url}/_lab/records", params={"limit": 1000}, timeout=10).json()
    return [RecordData.from_json(record) for record in answer["records"]]


def run(
    url: str, way: Callable[[str, Opened], Coroutine[Any, Any, None]]
) -> tuple[float, int, int, int]:
    """Total time, connections aiohttp opened, client ports the server saw, requests it saw."""
    before = {record.id for record in records(url)}
    opened = Opened()
    started = time.perf_counter()
    asyncio.run(way(url, opened))
    took = time.perf_counter() - started
    mine = [r for r in records(url) if r.id not in before and r.path == PATH]
    return took, opened.count, len({r.client for r in mine}), len(mine)


with start(ServerOptions()) as server:  # the raw layer under uvicorn, on a port of its own
    print(f"{REQUESTS} x GET {PATH}, {AT_ONCE} at a time, aiohttp {aiohttp.__version__}")
    print(f"against uvicorn (pid {server.pid}), the raw layer with the probe, on loopback")
    print()
    print(f"  {'':<30}{'total':>9}{'opened':>9}{'client ports':>15}{'requests':>11}")
    print(f"  {'':<30}{'':>9}{'(aiohttp)':>9}{'(server)':>15}{'(server)':>11}")
    for label, way in (
        ("one ClientSession per request", session_per_request),
        ("one shared ClientSession", shared_session),
    ):
        took, opened, ports, seen = run(server.url, way)
        print(f"  {label:<30}{took:>7.2f} s{opened:>9}{ports:>15}{seen:>11}")
