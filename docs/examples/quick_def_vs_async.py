"""Chapter 3: `/quick` as `async def` and as `def` on FastAPI itself, measured: requests per
second and latency under the same bounded load, the server on one core and the client on the
other. One run on a shared machine: rerun it to see how much the figures move."""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import time
from collections import Counter
from pathlib import Path

import aiohttp

from asgi_lab.serving import ServerOptions, start

#: (requests in flight at once, requests per round): one at a time for the latency of a request
#: alone, then a load that keeps the server's core busy. Rounds alternate the endpoints.
LOADS = ((1, 500), (8, 2000))
ROUNDS = 3
#: A round that takes longer than this is cut short (and says so): the load is bounded in time.
ROUND_LIMIT = 30.0
PATHS = ("/quick/async", "/quick/def")
HERE = Path(__file__).resolve().parent


#: A round: its wall time, each request's latency, and how many of them each thread ran.
Round = tuple[float, list[float], Counter[str]]


async def round_of(session: aiohttp.ClientSession, url: str, at_once: int, requests: int) -> Round:
    """`requests` GETs of `url`, `at_once` in flight at a time."""
    latencies: list[float] = []
    threads: Counter[str] = Counter()
    queue = iter(range(requests))

    async def worker() -> None:
        for _ in queue:  # the workers share one iterator: REQUESTS in all
            sent = time.perf_counter()
            async with session.get(url) as response:
                body = await response.json()
            latencies.append(time.perf_counter() - sent)
            if response.status == 200:
                threads[body["thread"]] += 1

    started = time.perf_counter()
    async with asyncio.timeout(ROUND_LIMIT):
        await asyncio.gather(*(worker() for _ in range(at_once)))
    return time.perf_counter() - started, latencies, threads


async def measure(base: str) -> dict[tuple[int, str], list[Round]]:
    results: dict[tuple[int, str], list[Round]] = {}
    most = max(at_once for at_once, _ in LOADS)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=most)) as session:
        for path in PATHS:  # warm both: connections open, FastAPI's first-call caches filled
            await round_of(session, base + path, most, 500)
        for at_once, requests in LOADS:
            for _ in range(ROUNDS):
                for path in PATHS:
                    run = await round_of(session, base + path, at_once, requests)
                    results.setdefault((at_once, path), []).append(run)
    return results


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


pinned = shutil.which("taskset") is not None and len(os.sched_getaffinity(0)) >= 2
if pinned:
    os.sched_setaffinity(0, {1})  # the client on CPU 1, the server (taskset) on CPU 0
options = ServerOptions(
    app="apps.quick:app",
    app_dir=str(HERE),
    loop="uvloop",
    http="httptools",
    cpus="0" if pinned else None,
)
with start(options) as server:
    results = asyncio.run(measure(server.url))

where = "server on CPU 0, client on CPU 1" if pinned else "not pinned (no taskset or one CPU)"
print(f"uvicorn (uvloop, httptools), FastAPI, one worker; {where}")
print(f"{ROUNDS} rounds per endpoint and load, endpoints alternating; latency as the client saw it")
for at_once, requests in LOADS:
    print()
    print(f"{requests} GETs a round, {at_once} in flight")
    print(f"  {'endpoint':<14}{'round':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}  ran on")
    for path in PATHS:
        rates, medians = [], []
        for number, (took, latencies, threads) in enumerate(results[at_once, path], 1):
            rates.append(len(latencies) / took)
            cut = statistics.quantiles(latencies, n=100)
            medians.append(cut[49])
            ran = ", ".join(f"{name} x{count}" for name, count in threads.most_common())
            print(
                f"  {path:<14}{number:>6}{rates[-1]:>9.0f}{ms(cut[49]):>9}{ms(cut[98]):>9}  {ran}"
            )
        middle = f"{statistics.median(rates):>9.0f}{ms(statistics.median(medians)):>9}"
        print(f"  {'':<14}{'median':>6}{middle}")
