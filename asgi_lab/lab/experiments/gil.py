"""gil: CPU-bound Python in threads takes turns on the GIL; processes use more cores.

`/sync/cpu?ms=M` does a fixed amount of pure-Python work calibrated to M ms on an idle core. Two
such requests in one worker run on two threadpool threads at the same time, yet take as long as
one after the other. One per worker, in two processes, they overlap as far as the cores allow.
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import time

from asgi_lab.lab.clients import AsyncClient, pin_workers
from asgi_lab.lab.experiment import Context, experiment
from asgi_lab.lab.verdicts import RecordDict, at_least, at_most, exactly, max_in_flight

MILLISECONDS = 300
PARALLEL = 2


def cores() -> int:
    """The cores this process may run on (what a taskset or a container allows)."""
    return len(os.sched_getaffinity(0))


async def one_worker(url: str, path: str, n: int) -> tuple[float, float]:
    """Seconds for one request alone (median of three), then for n at once."""
    async with AsyncClient(url) as client:
        await asyncio.gather(*(client.get("/quick") for _ in range(n)))  # warm n connections
        alone = statistics.median([(await client.get(path)).seconds for _ in range(3)])
        started = time.perf_counter()
        await asyncio.gather(*(client.get(path) for _ in range(n)))
        return alone, time.perf_counter() - started


async def per_worker(url: str, path: str, n: int) -> tuple[float, float]:
    """The same, with each of the n requests on a connection to a different worker."""
    pinned = await pin_workers(url, n)
    try:
        alone = statistics.median([(await c.get(path)).seconds for c in pinned for _ in range(2)])
        started = time.perf_counter()
        await asyncio.gather(*(c.get(path) for c in pinned))
        return alone, time.perf_counter() - started
    finally:
        for c in pinned:
            await c.aclose()


def cpu_intervals(records: list[RecordDict]) -> list[tuple[int, int]]:
    return [(int(h["start_ns"]), int(h["end_ns"])) for r in records for h in r["hops"]]


@experiment(
    "gil",
    title="CPU-bound sync work: threads give no speed-up in one worker; workers do, per core",
    chapter="13-workers-and-the-gil",
    tiny_scale=0.3,
)
def run(ctx: Context) -> None:
    ms = max(20, round(MILLISECONDS * ctx.scale))
    path = f"/sync/cpu?ms={ms}"
    n = PARALLEL
    with ctx.server("1 worker") as server:
        ctx.step(f"1 worker: GET {path} alone, then {n} at once (two threadpool threads)")
        alone, together = asyncio.run(one_worker(server.url, path, n))
    with ctx.server(f"{n} workers", workers=n) as server:
        ctx.step(f"{n} workers: GET {path} alone, then one per worker at once")
        alone_w, together_w = asyncio.run(per_worker(server.url, path, n))
    usable = min(n, cores())
    threaded = [r for r in ctx.records("1 worker", "/sync/cpu")][-n:]
    ctx.check(
        exactly(
            f"1 worker: threads running the {n} requests at once",
            max_in_flight(cpu_intervals(threaded)),
            n,
        )
    )
    ctx.check(
        at_least(
            f"1 worker: {n} at once take as long as {n} in a row",
            together,
            n * alone,
            note=f"{n} x alone {alone * 1e3:.0f} ms; ratio = speed-up from threads",
        )
    )
    bound = math.ceil(n / usable) * alone_w
    ctx.check(
        at_most(
            f"{n} workers: {n} at once, one per worker",
            together_w,
            bound,
            note=f"ceil({n}/{usable} cores) x alone {alone_w * 1e3:.0f} ms",
        )
    )
    ctx.fact("cores usable / os.cpu_count()", f"{cores()} / {os.cpu_count()}")
    ctx.fact("speed-up from threads", f"{n * alone / together:.2f}x")
    ctx.fact("speed-up from workers", f"{n * alone_w / together_w:.2f}x (at most {usable}x)")
