"""How much does the client itself distort a measurement? `python bench/clients.py`.

For each candidate that is installed (httpx, httpx2, aiohttp), against its own fresh server:

- burst: 80 concurrent `/async/sleep?seconds=0.5` on 80 warm keep-alive connections. Ideal:
  0.5 s, and all 80 reaching the server at once. The spread of their arrival (first to last
  `start_ns` in the probe records) is what the client adds before the server sees anything.
- waves: 80 concurrent `/sync/sleep?seconds=1` with anyio's 40 threadpool tokens. Ideal: 2.0 s.
- rate: 1000 `/quick` requests, 64 at a time. The client must be far faster than the server.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp

from asgi_lab import serving
from asgi_lab.lab.observed import TraceDir
from asgi_lab.lab.report import table
from asgi_lab.serving import ServerOptions
from asgi_lab.settings import Settings

__all__ = ["CANDIDATES", "measure", "main"]

BURST = 80
BURST_SECONDS = 0.5
RATE_REQUESTS = 1000
RATE_CONCURRENCY = 64

Get = Callable[[str], Awaitable[int]]


def httpx_like(module_name: str) -> Callable[[], AbstractAsyncContextManager[Get]] | None:
    """A client factory for httpx or httpx2 (same API), or None when it is not installed."""
    try:
        module: Any = importlib.import_module(module_name)
    except ImportError:
        return None

    class Client:
        async def __aenter__(self) -> Get:
            limits = module.Limits(max_connections=None, max_keepalive_connections=None)
            self.client = module.AsyncClient(limits=limits, timeout=60)

            async def get(url: str) -> int:
                response = await self.client.get(url)
                return int(response.status_code)

            return get

        async def __aexit__(self, *exc: object) -> None:
            await self.client.aclose()

    return Client


class AiohttpClient:
    async def __aenter__(self) -> Get:
        connector = aiohttp.TCPConnector(limit=0)
        self.session = aiohttp.ClientSession(connector=connector)

        async def get(url: str) -> int:
            async with self.session.get(url) as response:
                await response.read()
                return response.status

        return get

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()


def candidates() -> dict[str, Callable[[], AbstractAsyncContextManager[Get]] | None]:
    """Every candidate; None for those not installed."""
    return {
        "httpx": httpx_like("httpx"),
        "httpx2": httpx_like("httpx2"),
        "aiohttp": AiohttpClient,
    }


CANDIDATES = ("httpx", "httpx2", "aiohttp")


async def drive(
    factory: Callable[[], AbstractAsyncContextManager[Get]], url: str
) -> dict[str, float]:
    async with factory() as get:
        # Warm BURST connections first, so the burst measures sending, not connecting.
        await asyncio.gather(*(get(f"{url}/async/sleep?seconds=0.05") for _ in range(BURST)))
        started = time.perf_counter()
        burst = f"{url}/async/sleep?seconds={BURST_SECONDS:g}"
        await asyncio.gather(*(get(burst) for _ in range(BURST)))
        out = {"burst": time.perf_counter() - started}
        started = time.perf_counter()
        await asyncio.gather(*(get(f"{url}/sync/sleep?seconds=1") for _ in range(BURST)))
        out["waves"] = time.perf_counter() - started
        gate = asyncio.Semaphore(RATE_CONCURRENCY)

        async def quick() -> None:
            async with gate:
                await get(f"{url}/quick")

        started = time.perf_counter()
        await asyncio.gather(*(quick() for _ in range(RATE_REQUESTS)))
        out["rate"] = RATE_REQUESTS / (time.perf_counter() - started)
        return out


def measure(name: str) -> dict[str, float] | None:
    """One candidate's numbers against its own server; None when it is not installed."""
    factory = candidates()[name]
    if factory is None:
        return None
    trace = TraceDir()
    try:
        options = ServerOptions(settings=Settings(trace_dir=str(trace.path)))
        with serving.start(options) as server:
            out = asyncio.run(drive(factory, server.url))
        records = [r for r in trace.read() if r.path == "/async/sleep"]
    finally:
        trace.cleanup()
    burst = sorted(r.start_ns for r in records)[-BURST:]
    out["spread"] = (burst[-1] - burst[0]) / 1e9
    return out


def main() -> int:
    rows = []
    for name in CANDIDATES:
        out = measure(name)
        if out is None:
            rows.append([name, "not installed", "", "", ""])
            continue
        rows.append(
            [
                name,
                f"{out['burst']:.3f} s (ideal {BURST_SECONDS:g})",
                f"{out['spread'] * 1e3:.1f} ms",
                f"{out['waves']:.3f} s (ideal 2.0)",
                f"{out['rate']:.0f} req/s",
            ]
        )
    headers = [
        "client",
        f"{BURST} x {BURST_SECONDS:g} s async",
        "arrival spread",
        f"{BURST} x 1 s sync, 40 tokens",
        f"/quick, {RATE_CONCURRENCY} at a time",
    ]
    print(table(headers, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
