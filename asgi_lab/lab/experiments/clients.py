"""clients: N requests one after another, from a pool of threads, and with asyncio.gather."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from asgi_lab.lab.clients import AsyncClient, Reply, SyncClient
from asgi_lab.lab.experiment import Context, experiment
from asgi_lab.lab.records import max_in_flight, request_intervals
from asgi_lab.lab.verdicts import at_most, exactly, waves

__all__ = ["run"]

REQUESTS = 6
SECONDS = 0.5


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


@experiment(
    "clients",
    title="N requests to an S-second endpoint: sequential ~ N*S, threads ~ S, gather ~ S",
    chapter="05-clients-and-fan-out",
    tiny_scale=0.5,
)
def run(ctx: Context) -> None:
    n, secs = REQUESTS, ctx.seconds(SECONDS)
    path = f"/async/sleep?seconds={secs:g}"
    timings: dict[str, float] = {}
    for phase, drive in (
        ("sequential", sequential),
        ("threads", threaded),
        ("gather", lambda u, p, k: asyncio.run(gathered(u, p, k))),
    ):
        with ctx.server(phase) as server:
            ctx.step(f"{phase}: {n} x GET {path}")
            timings[phase], replies = drive(server.url, path, n)
            if any(r.status != 200 for r in replies):
                raise RuntimeError(f"{phase}: statuses {[r.status for r in replies]}, expected 200")
    ctx.check(waves("sequential: one at a time, N x S", timings["sequential"], n, 1, secs))
    ctx.check(at_most("thread pool of N sync clients: ~S", timings["threads"], secs))
    ctx.check(at_most("asyncio.gather on one async client: ~S", timings["gather"], secs))
    for phase, expected in (("sequential", 1), ("threads", n), ("gather", n)):
        records = ctx.records(phase, "/async/sleep")
        overlap = max_in_flight(request_intervals(records))
        ctx.check(exactly(f"{phase}: requests in flight at once on the server", overlap, expected))
    for phase in ("sequential", "threads", "gather"):
        records = ctx.records(phase, "/async/sleep")
        starts = [r.start_ns for r in records]
        clients = {r.client for r in records}
        ctx.fact(
            f"{phase}",
            f"{len(clients)} client connection(s); arrivals spread over "
            f"{(max(starts) - min(starts)) / 1e6:.1f} ms",
        )
