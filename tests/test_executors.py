"""The executor hook: on each loop the probe meets, never on import, removed by `uninstall()`,
kept under someone else's wrapper, every call to `run_in_executor` a hop attributed to its
request even though the context does not travel, and its pool counted."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from asgi_lab.probe import ProbeMiddleware, executors
from asgi_lab.probe.hook import current_record
from asgi_lab.records.schema import RecordData

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def unhooked() -> Iterator[None]:
    executors.uninstall()
    yield
    executors.uninstall()


def app_sending(call: Callable[[], Any]) -> Starlette:
    """An app whose one `async def` endpoint awaits `call()` (a future of the loop's)."""

    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({"answer": await call()})

    return Starlette(routes=[Route("/", endpoint)])


async def one_request(probe: ProbeMiddleware) -> RecordData:
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        assert (await client.get("/")).status_code == 200
    return list(probe.ring)[-1].data()


def in_default_executor(func: Callable[[], Any]) -> Callable[[], Any]:
    return lambda: asyncio.get_running_loop().run_in_executor(None, func)


def test_nothing_is_wrapped_on_import() -> None:
    code = (
        "import asyncio, asgi_lab.probe, asgi_lab.probe.executors;"
        "loop = asyncio.new_event_loop();"
        "assert 'run_in_executor' not in vars(loop); print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


async def test_a_hop_without_the_context_is_still_its_requests() -> None:
    """Plain `run_in_executor` does not copy the context: the thread cannot see the record,
    yet the hop is the request's, read at submission on the loop."""
    seen: list[object] = []

    def look() -> int:
        seen.append(current_record.get())
        return threading.get_native_id()

    record = await one_request(ProbeMiddleware(app_sending(in_default_executor(look))))
    [hop] = record.hops
    assert seen == [None]
    assert hop.call.endswith(".look") and hop.pool.name == "default-executor" and not hop.endpoint
    assert hop.thread is not None and hop.thread.native_id != threading.get_native_id()
    assert not record.handler.in_threadpool  # the async def ran on the loop


async def test_uninstall_takes_the_wrapper_off_the_loop() -> None:
    loop = asyncio.get_running_loop()
    probe = ProbeMiddleware(app_sending(in_default_executor(threading.get_native_id)))
    assert len((await one_request(probe)).hops) == 1
    assert executors.installed(loop) and "run_in_executor" in vars(loop)
    executors.uninstall()
    assert not executors.installed(loop) and "run_in_executor" not in vars(loop)


async def test_a_foreign_wrapper_on_top_keeps_working_and_every_call_is_one_hop() -> None:
    loop = asyncio.get_running_loop()
    probe = ProbeMiddleware(app_sending(in_default_executor(threading.get_native_id)))
    await one_request(probe)
    ours = loop.run_in_executor
    calls = []

    @functools.wraps(ours)
    def theirs(executor: Any, func: Callable[..., Any], *args: Any) -> Any:
        calls.append(func)
        return ours(executor, func, *args)

    loop.run_in_executor = theirs  # type: ignore[method-assign, assignment]
    try:
        assert len((await one_request(probe)).hops) == 1
        executors.uninstall()  # ours stays in their chain, passing calls through
        assert loop.run_in_executor is theirs
        assert len((await one_request(probe)).hops) == 0
        assert len(calls) == 2  # their wrapper saw both calls
        executors.install()
        executors.watch(loop, "asyncio")  # what the probe does when it meets a loop
        assert len((await one_request(probe)).hops) == 1  # one hop, never two
    finally:
        executors.uninstall()
        if vars(loop).get("run_in_executor") is theirs:
            del loop.run_in_executor


async def test_an_own_pool_is_named_after_its_threads_and_counted() -> None:
    """Two calls into a one-thread pool: the second finds the first busy, then waits for it."""
    started, release = threading.Event(), threading.Event()

    def first() -> int:
        started.set()
        assert release.wait(10)
        return 1

    with ThreadPoolExecutor(1, thread_name_prefix="reports") as pool:

        async def two() -> int:
            loop = asyncio.get_running_loop()
            one = loop.run_in_executor(pool, first)
            assert await asyncio.to_thread(started.wait, 10)
            other = loop.run_in_executor(pool, threading.get_native_id)
            release.set()
            return (await one) + (await other)

        record = await one_request(ProbeMiddleware(app_sending(two)))
    hops = {h.call.rpartition(".")[2]: h for h in record.hops}
    assert hops["first"].pool.name == "executor:reports" == hops["get_native_id"].pool.name
    assert (hops["first"].pool.busy, hops["first"].pool.queued) == (0, 0)
    assert (hops["get_native_id"].pool.busy, hops["get_native_id"].pool.queued) == (1, 0)
    assert hops["get_native_id"].start_ns >= hops["first"].end_ns  # it waited for the thread
    assert hops["wait"].pool.name == "default-executor"  # asyncio.to_thread


async def test_a_call_cancelled_in_the_queue_leaves_it() -> None:
    """A queued call cancelled before a thread takes it is counted out of the queue."""
    started, release = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        assert release.wait(10)

    with ThreadPoolExecutor(1, thread_name_prefix="one") as pool:

        async def cancel_one() -> int:
            loop = asyncio.get_running_loop()
            held = loop.run_in_executor(pool, hold)
            assert await asyncio.to_thread(started.wait, 10)
            queued = loop.run_in_executor(pool, threading.get_native_id)
            queued.cancel()
            await asyncio.sleep(0)  # the done callbacks run
            after = loop.run_in_executor(pool, threading.get_native_id)
            release.set()
            await held
            return await after

        record = await one_request(ProbeMiddleware(app_sending(cancel_one)))
    last = record.hops[-1]
    assert last.pool.queued == 0 and last.pool.busy == 1  # the cancelled call is gone
    assert [h.thread is None for h in record.hops if h.call == "get_native_id"] == [True, False]
