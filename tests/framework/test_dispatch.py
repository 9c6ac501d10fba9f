"""Endpoints and dependencies run where FastAPI runs them: on the event loop or in a worker thread.

Each function of the dispatch routes notes (event, native thread id); the loop thread is the one
running the test, since httpx's ASGITransport calls the app on the caller's loop. A wrapper around
`anyio.to_thread.run_sync` counts the hops into the threadpool and the threads they ran on.
"""

import threading
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import fastapi
import httpx
import pytest

import asgi_lab.framework as ours

from .parity_app import build

FRAMEWORKS = [fastapi, ours]
ROUTES = [
    "/dispatch/async",
    "/dispatch/sync",
    "/dispatch/annotated",
    "/dispatch/fail",
    "/dispatch/background",
    "/dispatch/stream",
    "/dispatch/jsonl",
    "/dispatch/validated",
    "/dispatch/invalid",
    "/dispatch/router/deps",
    "/dispatch/override",
    "/dispatch/limited",
    "/dispatch/yield-error",
]


class Hops:
    """Counts calls of anyio.to_thread.run_sync and the native ids of the threads they used."""

    def __init__(self) -> None:
        self.calls = 0
        self.threads: set[int] = set()


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> Hops:
    seen = Hops()
    real = anyio.to_thread.run_sync

    async def counting(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        seen.calls += 1

        def run(*inner: Any) -> Any:
            seen.threads.add(threading.get_native_id())
            return func(*inner)

        return await real(run, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return seen


async def trace(fw: Any, route: str) -> tuple[int, list[tuple[str, str]]]:
    """Status, then each event with 'loop' or 'thread', for one request to `route`."""
    log: list[tuple[str, int]] = []
    transport = httpx.ASGITransport(app=build(fw, log), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(route)
    loop_thread = threading.get_native_id()
    where = [(event, "loop" if tid == loop_thread else "thread") for event, tid in log]
    return response.status_code, where


@pytest.mark.anyio
@pytest.mark.parametrize("route", ROUTES)
async def test_same_places_in_the_same_order(route: str) -> None:
    theirs = await trace(fastapi, route)
    mine = await trace(ours, route)
    assert mine == theirs


# Hops per request: a def dependency or endpoint 1, a sync generator 2 (enter, exit), a def
# endpoint with any return annotation, even `-> Any`, 1 more to validate its result, a sync
# background task 1, and a stream over a sync iterator 1 per chunk plus 1 to find its end.
HOPS = {
    "/dispatch/async": 5,
    "/dispatch/sync": 7,
    "/dispatch/annotated": 2,
    "/dispatch/fail": 2,
    "/dispatch/background": 2 + 1 + 1,
    "/dispatch/stream": 1 + 3 + 1,
    "/dispatch/jsonl": 2 + 1,
    "/dispatch/validated": 2,
    "/dispatch/invalid": 2,
    "/dispatch/router/deps": 1 + 2,
    "/dispatch/override": 1,
    "/dispatch/limited": 1 + 2 + 1 + 1,
    "/dispatch/yield-error": 2 + 1,
}


@pytest.mark.anyio
@pytest.mark.parametrize("route", ROUTES)
async def test_every_thread_hop_goes_through_anyio(route: str, hops: Hops) -> None:
    counts = []
    for fw in FRAMEWORKS:
        hops.calls, hops.threads = 0, set()
        log: list[tuple[str, int]] = []
        transport = httpx.ASGITransport(app=build(fw, log), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await client.get(route)
        loop_thread = threading.get_native_id()
        off_loop = {tid for _, tid in log if tid != loop_thread}
        # Nothing ran off the loop without passing through the patched run_sync.
        assert off_loop <= hops.threads
        counts.append(hops.calls)
    assert counts == [HOPS[route], HOPS[route]]


@pytest.mark.anyio
async def test_the_expected_picture() -> None:
    # Spelled out once, so a reader sees what parity means for the sync endpoint.
    status, where = await trace(ours, "/dispatch/sync")
    assert status == 200
    assert where == [
        ("dep async", "loop"),
        ("dep sync", "thread"),
        ("dep async gen setup", "loop"),
        ("dep gen setup", "thread"),
        ("dep gen(function) setup", "thread"),
        ("endpoint sync", "thread"),
        ("dep gen(function) teardown", "thread"),
        ("response sent", "loop"),
        ("dep gen teardown", "thread"),
        ("dep async gen teardown", "loop"),
    ]
