"""clients: N requests one after another, from a pool of threads, and with asyncio.gather.

`clients` runs at the tour's small scale; `clients-full-size` runs the classic figures (10
requests to a 2-second endpoint, 100 gathered), half a minute, so the tour leaves it out.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from asgi_lab.lab.clients import AsyncClient, Reply, SyncClient
from asgi_lab.lab.harness import Context, experiment
from asgi_lab.lab.observed import max_in_flight, request_intervals
from asgi_lab.lab.verdicts import at_most, exactly, waves

__all__ = ["full_size", "run"]

REQUESTS = 6
SECONDS = 0.5
#: The figures as the classic telling has them: too long for the tour, so only run by name.
FULL_SIZE = {"sequential": 10, "threads": 10, "gather": 100}
FULL_SECONDS = 2.0


def sequential(url: str, path: str, n: int) -> tuple[float, list[Reply]]:
    """One blocking client, one keep-alive connection, one request at a time."""
    with SyncClient(url) as client:
        started = time.perf_counter()
        replies = [client.get(path) for _ in range(n)]
        return time.perf_counter() - started, replies


def threaded(url: str, path: str, n: int) -> tuple[float, list[Reply]]:
    """N threads, each with its own blocking client: the OS runs the waits side by side.

    Each thread connects first and all start together at a barrier, so the clock measures the
    requests, not thread creation.
    """
    barrier = threading.Barrier(n + 1, timeout=30)

    def one(_: int) -> Reply:
        with SyncClient(url) as client:
            client.connect()
            barrier.wait()
            return client.get(path)

    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="lab-client") as pool:
        futures = [pool.submit(one, i) for i in range(n)]
        barrier.wait()
        started = time.perf_counter()
        replies = [f.result(timeout=60) for f in futures]
        return time.perf_counter() - started, replies


async def gathered(url: str, path: str, n: int) -> tuple[float, list[Reply]]:
    """One async client on one thread: N requests in flight, awaited together."""
    async with AsyncClient(url) as client:
        # Open the n connections first, as each thread of `threaded` connects before the clock.
        await asyncio.gather(*(client.get("/quick") for _ in range(n)))
        started = time.perf_counter()
        replies = await asyncio.gather(*(client.get(path) for _ in range(n)))
        return time.perf_counter() - started, list(replies)


#: How each client drives its server, in the order they run.
DRIVERS: dict[str, Callable[[str, str, int], tuple[float, list[Reply]]]] = {
    "sequential": sequential,
    "threads": threaded,
    "gather": lambda url, path, n: asyncio.run(gathered(url, path, n)),
}


def figures(ctx: Context, counts: Mapping[str, int], secs: float) -> None:
    """Drive a fresh server with each client (`counts[phase]` requests of `secs`), then judge."""
    path = f"/async/sleep?seconds={secs:g}"
    timings: dict[str, float] = {}
    for phase, drive in DRIVERS.items():
        n = counts[phase]
        with ctx.server(phase) as server:
            ctx.step(f"{phase}: {n} x GET {path}")
            timings[phase], replies = drive(server.url, path, n)
            if any(r.status != 200 for r in replies):
                raise RuntimeError(f"{phase}: statuses {[r.status for r in replies]}, expected 200")
    seq, threads, gather = counts["sequential"], counts["threads"], counts["gather"]
    ctx.check(waves(f"sequential: {seq} in a row, N x S", timings["sequential"], seq, 1, secs))
    ctx.check(at_most(f"threads: {threads} sync clients, ~S", timings["threads"], secs))
    ctx.check(at_most(f"gather: {gather} on one async client, ~S", timings["gather"], secs))
    for phase in DRIVERS:
        records = ctx.records(phase, "/async/sleep")
        overlap = max_in_flight(request_intervals(records))
        expected = 1 if phase == "sequential" else counts[phase]
        ctx.check(exactly(f"{phase}: most requests in flight on the server", overlap, expected))
        starts = [r.start_ns for r in records]
        clients = {r.client for r in records}
        ctx.fact(
            f"{phase}",
            f"{len(clients)} client connection(s); arrivals spread over "
            f"{(max(starts) - min(starts)) / 1e6:.1f} ms",
        )


@experiment(
    "clients",
    title="N requests to an S-second endpoint: sequential ~ N*S, threads ~ S, gather ~ S",
    chapter="05-clients-and-fan-out",
    tiny_scale=0.5,
)
def run(ctx: Context) -> None:
    figures(ctx, dict.fromkeys(DRIVERS, REQUESTS), ctx.seconds(SECONDS))


@experiment(
    "clients-full-size",
    title="classic figures: 10 x 2 s in a row ~20 s, 10 threads ~2 s, 100 gathered ~2 s",
    chapter="05-clients-and-fan-out",
    # Sending and reading 100 answers on one loop costs 20-40 ms, the 5 % tolerance of a 0.4-0.8 s
    # sleep: the tests run it at 1 s (13 s in all), where that cost stays inside the tolerance.
    tiny_scale=0.5,
)
def full_size(ctx: Context) -> None:
    figures(ctx, FULL_SIZE, ctx.seconds(FULL_SECONDS))
