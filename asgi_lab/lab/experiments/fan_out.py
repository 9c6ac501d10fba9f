"""fan-out and gather-vs-as-completed: one async client asking four backends at once.

The four backends are four servers (four pids) answering `/async/sleep` after 1, 2, 3 and 4
units. The waiting is client-side asyncio: what comes back, in which order, and when.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from asgi_lab.lab.clients import AsyncClient, Reply
from asgi_lab.lab.harness import Context, experiment
from asgi_lab.lab.verdicts import at_most, exactly, in_order, near
from asgi_lab.serving import bind

__all__ = ["fan_out", "gather_vs_as_completed"]

UNIT = 0.25
BACKENDS = 4


@contextmanager
def backends(ctx: Context, n: int = BACKENDS) -> Iterator[list[str]]:
    """Start `n` servers, one per backend; their URLs, in order."""
    with ExitStack() as stack:
        servers = [stack.enter_context(ctx.server(f"backend {i + 1}")) for i in range(n)]
        # Out first: every backend is told to stop before the first is waited for, so their
        # shutdowns (uvicorn's take a few 100 ms ticks) overlap instead of adding up.
        for server in servers:
            stack.callback(server.terminate)
        yield [server.url for server in servers]


def dead_url() -> str:
    """A loopback URL nobody listens on: bind a free port, then let it go."""
    sock = bind()
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


async def fetch(client: AsyncClient, url: str, seconds: float) -> Reply:
    reply = await client.get(f"{url}/async/sleep?seconds={seconds:g}")
    if reply.status != 200:
        raise RuntimeError(f"{url} answered {reply.status}")
    return reply


def shape(results: list[Any]) -> str:
    return "[" + ", ".join(type(r).__name__ for r in results) + "]"


@experiment(
    "fan-out",
    title="gather to 4 backends (1..4 units): ~max not sum; a failure and a timeout keep the shape",
    chapter="05-clients-and-fan-out",
    tiny_scale=0.4,
    tour_scale=1.2,
)
def fan_out(ctx: Context) -> None:
    unit = ctx.seconds(UNIT)
    delays = [unit * (i + 1) for i in range(BACKENDS)]
    timeout = 3.5 * unit
    out: dict[str, tuple[float, list[Any]]] = {}

    async def drive(urls: list[str]) -> None:
        # An absolute URL per request: one client, one pool, four hosts.
        async with AsyncClient("") as client:
            await asyncio.gather(*(client.get(f"{u}/quick") for u in urls))  # warm connections

            async def timed(name: str, calls: list[Awaitable[Any]]) -> None:
                started = time.perf_counter()
                results = await asyncio.gather(*calls, return_exceptions=True)
                out[name] = time.perf_counter() - started, list(results)

            await timed("all", [fetch(client, u, d) for u, d in zip(urls, delays, strict=True)])
            down = [*urls[:2], dead_url(), urls[3]]
            await timed(
                "one down", [fetch(client, u, d) for u, d in zip(down, delays, strict=True)]
            )

            async def bounded(url: str, seconds: float) -> Reply:
                async with asyncio.timeout(timeout):
                    return await fetch(client, url, seconds)

            await timed("timeout", [bounded(u, d) for u, d in zip(urls, delays, strict=True)])

    with backends(ctx) as urls:
        ctx.step(
            f"gather to {BACKENDS} backends answering after {', '.join(f'{d:g}' for d in delays)} s"
        )
        asyncio.run(drive(urls))
        # Stopping waits for backend 4: it is still sleeping for a client that left.
        ctx.step("stopping the backends; backend 4 is still working for nobody")

    elapsed, results = out["all"]
    ctx.check(
        at_most(
            "all four answer: total ~ the slowest, not the sum",
            elapsed,
            max(delays),
            note=f"sum would be {sum(delays):g} s",
        )
    )
    ctx.check(exactly("results, in argument order", sum(isinstance(r, Reply) for r in results), 4))
    elapsed, results = out["one down"]
    ctx.check(at_most("backend 3 down: total still ~ the slowest", elapsed, max(delays)))
    ctx.check(exactly("result slots with return_exceptions=True", len(results), BACKENDS))
    ctx.check(
        exactly(
            "of which exceptions, in backend 3's slot",
            int(isinstance(results[2], BaseException)),
            1,
        )
    )
    elapsed, results = out["timeout"]
    ctx.check(near("timeout 3.5 units: total ~ the timeout", elapsed, timeout))
    ctx.check(
        exactly("timed out (backend 4 only)", sum(isinstance(r, TimeoutError) for r in results), 1)
    )
    slow = ctx.records("backend 4", "/async/sleep")[-1]
    worked = slow.duration_ns / 1e9
    ctx.fact("all four", shape(out["all"][1]))
    ctx.fact("backend 3 down", shape(out["one down"][1]) + f": {str(out['one down'][1][2])[:60]}")
    ctx.fact("timeout", shape(out["timeout"][1]))
    ctx.fact("backend 4 after the client gave up", f"kept working: its handler ran {worked:.3f} s")


#: Takes awaitables that resolve to letters; returns the letters in the order it hands them over,
#: each with the moment (perf_counter) it became usable.
Ordering = Callable[[list[Awaitable[str]]], Awaitable[list[tuple[str, float]]]]
ORDERINGS: dict[str, Ordering] = {}


def ordering(name: str) -> Callable[[Ordering], Ordering]:
    def register(fn: Ordering) -> Ordering:
        ORDERINGS[name] = fn
        return fn

    return register


@ordering("gather")
async def by_gather(calls: list[Awaitable[str]]) -> list[tuple[str, float]]:
    results = await asyncio.gather(*calls)
    now = time.perf_counter()
    return [(r, now) for r in results]


@ordering("as_completed")
async def by_as_completed(calls: list[Awaitable[str]]) -> list[tuple[str, float]]:
    seen: list[tuple[str, float]] = []
    for next_done in asyncio.as_completed(calls):
        seen.append((await next_done, time.perf_counter()))
    return seen


@ordering("wait FIRST_COMPLETED")
async def by_wait(calls: list[Awaitable[str]]) -> list[tuple[str, float]]:
    pending = {asyncio.ensure_future(c) for c in calls}
    seen: list[tuple[str, float]] = []
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        now = time.perf_counter()
        seen.extend((task.result(), now) for task in done)
    return seen


@ordering("TaskGroup")
async def by_task_group(calls: list[Awaitable[str]]) -> list[tuple[str, float]]:
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(_awaited(c)) for c in calls]
    now = time.perf_counter()
    return [(t.result(), now) for t in tasks]


async def _awaited(call: Awaitable[str]) -> str:
    return await call


@experiment(
    "gather-vs-as-completed",
    title="result order vs completion order: gather, as_completed, wait, TaskGroup",
    chapter="05-clients-and-fan-out",
    tiny_scale=0.8,
)
def gather_vs_as_completed(ctx: Context) -> None:
    unit = ctx.seconds(UNIT)
    letters = ["A", "B", "C", "D"]
    # A is the slowest, D the fastest: argument order is the reverse of completion order.
    delays = [unit * (BACKENDS - i) for i in range(BACKENDS)]
    completion = [letters[i] for i in sorted(range(BACKENDS), key=lambda i: delays[i])]
    out: dict[str, tuple[float, list[tuple[str, float]]]] = {}

    async def drive(urls: list[str]) -> None:
        async with AsyncClient("") as client:
            await asyncio.gather(*(client.get(f"{u}/quick") for u in urls))

            async def letter(url: str, seconds: float, name: str) -> str:
                await fetch(client, url, seconds)
                return name

            for name, pattern in ORDERINGS.items():
                calls: list[Awaitable[str]] = [
                    letter(u, d, x) for u, d, x in zip(urls, delays, letters, strict=True)
                ]
                started = time.perf_counter()
                out[name] = started, await pattern(calls)

    with backends(ctx) as urls:
        ctx.step(f"A..D answer after {', '.join(f'{d:g}' for d in delays)} s; four ways to wait")
        asyncio.run(drive(urls))

    for name, (started, seen) in out.items():
        order = [x for x, _ in seen]
        keeps_arguments = name in ("gather", "TaskGroup")
        expected = letters if keeps_arguments else completion
        what = "argument order" if keeps_arguments else "completion order"
        ctx.check(exactly(f"{name}: positions in {what}", in_order(order, expected), BACKENDS))
        first = seen[0][1] - started
        ctx.check(
            near(
                f"{name}: first result usable after",
                first,
                max(delays) if keeps_arguments else min(delays),
            )
        )
        ctx.fact(name, f"{' '.join(order)}; first usable at {first:.3f} s")
