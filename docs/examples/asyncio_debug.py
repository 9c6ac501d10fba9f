"""Chapter 12: the same hidden `time.sleep`, seen by asyncio's debug mode and by the watchdog,
and what each costs in requests per second.

Servers of the same app (`asgi_lab/lab/apps/shop.py`) on the asyncio loop, one at a time:
plain; with `PYTHONASYNCIODEBUG=1`; with debug mode turned on by the app itself
(`docs/examples/apps/debug_mode.py`: asyncio's slow-callback warning); and through
`asgi-lab trace`'s wrapper (probe and watchdog; no log line, so each writes only its
warnings). Each server is pinned to CPU 0; run it on an otherwise idle machine.
"""

from __future__ import annotations

import asyncio
import sysconfig
import time
from pathlib import Path

from rich.padding import Padding
from rich.text import Text

from asgi_lab.console import plain, width
from asgi_lab.lab.clients import AsyncClient
from asgi_lab.serving import ServerOptions, start
from asgi_lab.settings import Settings

APP = "asgi_lab.lab.apps.shop:app"
APPS = Path(__file__).resolve().parent / "apps"
ROOT = APPS.parent.parent.parent
REQUESTS = 600
#: Where this machine keeps the files the warnings name, and how the warnings are shown: shorter.
PATHS = {f"{ROOT}/": "", f"{sysconfig.get_paths()['purelib']}/": "site-packages/"}
CONCURRENCY = 16

VARIANTS = {
    "plain": ServerOptions(APP, loop="asyncio", cpus="0", settings=Settings(log="off")),
    "PYTHONASYNCIODEBUG=1": ServerOptions(
        APP,
        loop="asyncio",
        cpus="0",
        settings=Settings(log="off"),
        env={"PYTHONASYNCIODEBUG": "1"},
    ),
    "debug mode": ServerOptions(
        "debug_mode:app",
        loop="asyncio",
        cpus="0",
        app_dir=str(APPS),
        settings=Settings(log="off"),
    ),
    "probe+watchdog": ServerOptions(
        "asgi_lab.trace.app:app",
        factory=True,
        loop="asyncio",
        cpus="0",
        settings=Settings(app=APP, log="off", block_ms=100),
    ),
}


async def throughput(url: str) -> float:
    """Requests per second of `GET /items/list`, CONCURRENCY at a time."""
    async with AsyncClient(url, connections=CONCURRENCY) as client:
        await client.get("/items/list")
        left = REQUESTS

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await client.get("/items/list")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return REQUESTS / (time.perf_counter() - started)


async def hidden_block(url: str) -> None:
    async with AsyncClient(url) as client:
        await client.get("/reports/daily")


rates: dict[str, float] = {}
for name, options in VARIANTS.items():
    with start(options) as server:
        rates[name] = asyncio.run(throughput(server.url))
        before = server.lines_read
        asyncio.run(hidden_block(server.url))
        server.stop()  # every line is out once the worker has exited
    said = [
        line.rstrip() for line in server.lines_since(before) if "took" in line or "blocked" in line
    ]
    print(f"== {name}: what it says about GET /reports/daily")
    for line in said or ["(nothing)"]:
        for long, short in PATHS.items():
            line = line.replace(long, short)
        print(plain(Padding(Text(line), (0, 0, 0, 2)), columns=width()))
    print()

print(f"GET /items/list, {REQUESTS} requests, {CONCURRENCY} at a time, one asyncio worker")
print("(one short run each, in this order: a ratio is one run's, not a benchmark;")
print(" bench/probe_overhead.py measures the probe's own cost, side by side):")
for name, rate in rates.items():
    print(f"  {name:<21} {rate:>7,.0f} req/s  {rate / rates['plain']:.2f} of plain")
