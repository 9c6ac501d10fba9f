"""A request's waits, split by cause: for a full pool's token, for the loop, behind a stall.

Each cause is made on purpose (a pool of one token held by another request; a loop blocked by
another request while this one's thread has finished), and each view (the log line, the
summary, the OpenTelemetry span, the timeline's token curve) is held to the records it was drawn
from."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable

import anyio
import anyio.to_thread
import fastapi
import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from asgi_lab.console import plain
from asgi_lab.probe import ProbeMiddleware
from asgi_lab.probe.log import as_line
from asgi_lab.probe.otel import OtelSpans
from asgi_lab.records import HopData, PoolData, RecordData, ThreadData, WaitData, split_waits
from asgi_lab.timeline import build
from asgi_lab.timeline.html import legend
from asgi_lab.timeline.perfetto import events
from asgi_lab.timeline.svg import render
from asgi_lab.trace.summary import summary

pytestmark = pytest.mark.anyio

MS = 1_000_000
STALL_S = 0.3


def app(entered: threading.Event, hold: threading.Event) -> fastapi.FastAPI:
    """`/items/{n}` holds its thread until `hold`; `/stall` sets `hold`, then blocks the loop."""
    api = fastapi.FastAPI()

    @api.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        entered.set()
        assert hold.wait(10)
        return {"item": item_id}

    @api.get("/stall")
    async def stall() -> dict[str, str]:
        hold.set()
        time.sleep(STALL_S)  # noqa: ASYNC251  # on the loop, on purpose: the answer waits
        return {}

    return api


async def until(done: Callable[[], bool]) -> None:
    """Poll `done` on the loop (no thread: the pool may have none free), at most 10 s."""
    with anyio.fail_after(10):
        while not done():  # noqa: ASYNC110 (a thread's Event: nothing on the loop to await)
            await anyio.sleep(0.001)


async def two_requests(
    probe: ProbeMiddleware, first: str, second: str, ready: Callable[[], bool]
) -> tuple[RecordData, RecordData]:
    """`first`, then, once `ready()`, `second`, at once; their records."""
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.get, first)
            await until(ready)
            tg.start_soon(client.get, second)
    await probe.aclose()
    records = {r.path: r.data() for r in probe.ring}
    return records[first], records[second]


def endpoint_hop(record: RecordData) -> HopData:
    [hop] = [h for h in record.hops if h.endpoint]
    return hop


async def test_a_hop_that_found_the_pool_full_waited_for_the_pool() -> None:
    entered, hold = threading.Event(), threading.Event()
    probe = ProbeMiddleware(app(entered, hold), trace=None, threads=1)

    def queued() -> bool:
        if not entered.is_set():
            return False
        if anyio.to_thread.current_default_thread_limiter().statistics().tasks_waiting:
            hold.set()  # the second is queued for the one token: let the first finish
            return True
        return False

    # The second request is sent once the first holds the token, then waits in the queue.
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.get, "/items/1")
            await until(entered.is_set)
            tg.start_soon(client.get, "/items/2")
            await until(queued)
    await probe.aclose()
    records = {r.path: r.data() for r in probe.ring}
    holder, waiter = records["/items/1"], records["/items/2"]
    hop = endpoint_hop(waiter)
    assert hop.pool.full and hop.pool.busy == hop.pool.size == 1
    assert not endpoint_hop(holder).pool.full
    # It waited for the token until the holder's thread gave it back: the pool's wait.
    assert hop.start_ns > endpoint_hop(holder).end_ns
    assert hop.start_ns - hop.called_ns > 0
    # Each request's hops run one after another: its pool wait is its full hops' queue time
    # (the holder's later hops found the token taken by the waiter: theirs too).
    for r in (holder, waiter):
        assert r.waits.pool_ns == sum(h.start_ns - h.called_ns for h in r.hops if h.pool.full)
    assert waiter.waits.stall_ns == holder.waits.stall_ns == 0
    assert "full pool" in as_line(waiter) and f"waited {waiter.waits.total_ns / MS:.1f} ms" in (
        as_line(waiter)
    )


async def test_an_answer_that_waited_for_a_blocked_loop_waited_for_the_loop() -> None:
    entered, hold = threading.Event(), threading.Event()
    probe = ProbeMiddleware(app(entered, hold), trace=None)  # no watchdog: no stall is known
    held, staller = await two_requests(probe, "/items/1", "/stall", entered.is_set)
    hop = endpoint_hop(held)
    # Its thread finished while the loop slept; its task ran again only after.
    assert hop.resumed_ns - hop.end_ns > STALL_S * 1e9 / 2
    assert held.waits.loop_ns >= hop.resumed_ns - hop.end_ns
    assert held.waits.pool_ns == held.waits.stall_ns == 0
    assert not held.waited_on and staller.waits.total_ns == 0


# serial: a process held off the CPU shows the watchdog a second stall, and waits for the loop
# longer than the stall it sat behind.
@pytest.mark.serial
async def test_behind_a_stall_is_its_own_cause_not_the_loops() -> None:
    entered, hold = threading.Event(), threading.Event()
    probe = ProbeMiddleware(app(entered, hold), trace=None, watchdog=50)
    held, staller = await two_requests(probe, "/items/1", "/stall", entered.is_set)
    [wait] = held.waited_on
    assert wait.request == staller.id and wait.start_ns > 0
    hop = endpoint_hop(held)
    assert hop.resumed_ns - hop.end_ns > STALL_S * 1e9 / 2
    # The stall is counted once, as a stall: the loop's share is what lay outside it.
    assert held.waits.stall_ns == int(wait.ms * MS)
    assert held.waits.loop_ns < held.waits.stall_ns / 2
    assert held.waits.pool_ns == 0
    # The log line says each cause, and whose stall it sat through.
    w = held.waits
    said = (
        f"waited {w.total_ns / MS:.1f} ms (full pool {w.pool_ns / MS:.1f}, "
        f"loop {w.loop_ns / MS:.1f}, behind a stall {w.stall_ns / MS:.1f}: "
        f"blocked by {staller.id})"
    )
    assert said in as_line(held)
    # The summary: one row for the route, its longest wait of each cause.
    text = plain(summary([held, staller]), columns=100)
    [row] = [line for line in text.splitlines() if "GET /items/{item_id}" in line]
    cells = [c.strip() for c in row.split("│") if c.strip()]
    assert cells[-3:] == [f"{x / MS:.1f}" for x in (w.pool_ns, w.loop_ns, w.stall_ns)]
    assert "/items/1" not in text.split("slowest routes", 1)[1].split("loop stalls", 1)[0]
    # OpenTelemetry: the same three numbers on the request's span.
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    sink = OtelSpans(tracer_provider=provider)
    sink.open()
    sink.write([held])
    [span] = [s for s in spans.get_finished_spans() if s.name == "GET /items/1"]
    attributes = dict(span.attributes or {})
    assert attributes["asgi_lab.wait.pool_ms"] == w.pool_ns / MS
    assert attributes["asgi_lab.wait.loop_ms"] == w.loop_ns / MS
    assert attributes["asgi_lab.wait.stall_ms"] == w.stall_ns / MS
    assert attributes["http.route"] == "/items/{item_id}"
    provider.shutdown()
    # Perfetto: the request's slice carries them too.
    [begin] = [e for e in events(build([held])) if e.get("ph") == "b" and e["id"] == held.id]
    assert [begin["args"][f"waited_{x}_ms"] for x in ("for_a_full_pool", "for_the_loop")] == [
        w.pool_ns / MS,
        w.loop_ns / MS,
    ]
    assert begin["args"]["waited_behind_a_stall_ms"] == w.stall_ns / MS


async def test_the_token_curve_never_shows_more_than_the_records_saw() -> None:
    n = 12
    barrier = threading.Barrier(n, timeout=10)
    api = fastapi.FastAPI()

    @api.get("/together/{i}")
    def together(i: int) -> dict[str, int]:
        barrier.wait()  # all n hold a token at once
        return {"i": i}

    probe = ProbeMiddleware(api, trace=None)
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
        answers = await asyncio.gather(*(client.get(f"/together/{i}") for i in range(n)))
    assert {a.status_code for a in answers} == {200}
    records = [r.data() for r in probe.ring]
    timeline = build(records)
    [worker] = timeline.workers
    anyio_hops = [h for r in records for h in r.hops if h.pool.name == "anyio"]
    tokens = worker.pool("anyio").busy
    for hop in anyio_hops:
        # At its call: no more than the tokens the record says others held then.
        assert tokens.at(hop.called_ns) <= hop.pool.busy, hop
    for r in records:
        assert tokens.at(r.start_ns) <= r.threadpool.borrowed, r.id
    # The n endpoints held their tokens together, and the picture says so.
    assert tokens.peak >= n
    assert f"pool anyio: tokens held (max {tokens.peak} of 40)" in render(timeline)
    # One colour per route: the legend names the route once, not twelve paths.
    assert set(timeline.routes().values()) == {"/together/{i}"}
    assert legend(timeline).count("<span>") == 1 and "/together/{i}" in legend(timeline)


async def test_an_answer_waiting_for_the_loop_still_holds_its_token() -> None:
    entered, hold = threading.Event(), threading.Event()
    probe = ProbeMiddleware(app(entered, hold), trace=None)
    held, _ = await two_requests(probe, "/items/1", "/stall", entered.is_set)
    hop = endpoint_hop(held)
    [worker] = build([held]).workers
    # Its thread is done, the loop has not run its task yet: anyio has not taken it back.
    assert hop.resumed_ns - hop.end_ns > STALL_S * 1e9 / 2
    assert worker.pool("anyio").busy.at((hop.end_ns + hop.resumed_ns) // 2) == 1


def hop(called: int, start: int, end: int, resumed: int, *, full: bool) -> HopData:
    pool = PoolData("anyio", 1 if full else 40, 1 if full else 0, 0)
    return HopData("f", True, ThreadData("w", 9), called, start, end, start - called, pool, resumed)


def test_causes_never_count_an_instant_twice() -> None:
    # Two hops at once (a gather) at a pool with room: the loop's waits overlap, counted once.
    a = hop(0, 10, 50, 60, full=False)
    b = hop(5, 12, 40, 70, full=False)
    assert split_waits([a, b], []).loop_ns == 12 + (70 - 40)
    # A full pool's queue time is the pool's, even where the loop waits overlap it.
    c = hop(0, 30, 50, 55, full=True)
    d = hop(10, 20, 25, 26, full=False)
    waits = split_waits([c, d], [])
    assert (waits.pool_ns, waits.loop_ns) == (30, 5)
    # A stall over part of it is the stall's: taken out of the pool's and the loop's.
    stall = WaitData("1-1", 0.00002, "blocked", (), 20)  # 20 ns from t=20
    waits = split_waits([c, d], [stall])
    assert (waits.pool_ns, waits.loop_ns, waits.stall_ns) == (20, 5, 20)


def test_requests_without_a_stall_split_as_with_a_stall_of_no_length() -> None:
    # The writer's short path for a request that sat through no stall (most of them) gives what
    # the full computation gives with a stall that takes nothing out.
    rng = random.Random(7)
    nothing = WaitData("1-1", 0.0, "blocked", (), 0)  # no start: takes no instant out
    for _ in range(200):
        hops = []
        for _ in range(rng.randint(0, 4)):
            called = rng.randint(0, 100)
            start = called + rng.randint(0, 30)
            end = start + rng.randint(0, 30)
            hops.append(hop(called, start, end, end + rng.randint(0, 20), full=rng.random() < 0.5))
        assert split_waits(hops, []) == split_waits(hops, [nothing]), hops
    assert split_waits([], []) == split_waits([], [nothing])
