"""Caps on the work a request can cause: a 503 with Retry-After naming the cap and its setting."""

from __future__ import annotations

import asyncio
import statistics
import time

import anyio
import anyio.lowlevel
import httpx
import pytest

from asgi_lab import caps, settings
from asgi_lab.routes import app as routes_app

pytestmark = pytest.mark.anyio


def refused(response: httpx.Response, cap: int, setting: str) -> None:
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(caps.RETRY_AFTER)
    body = response.json()
    assert (body["cap"], body["setting"]) == (cap, setting)
    assert f"${setting}" in body["detail"]


async def test_blocking_requests_past_the_cap_are_refused(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASGI_LAB_MAX_BLOCKING", "2")
    settings.load()
    with anyio.fail_after(10):
        responses = await asyncio.gather(
            *(client.get("/async/block", params={"seconds": "0.01"}) for _ in range(5))
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200, 200, 503, 503, 503]
        for response in responses:
            if response.status_code == 503:
                refused(response, 2, "ASGI_LAB_MAX_BLOCKING")
        # The places are given back: the next one is served.
        assert (await client.get("/async/block", params={"seconds": "0"})).status_code == 200
    assert caps.BLOCKING.active == 0


async def test_background_jobs_past_the_cap_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASGI_LAB_MAX_BACKGROUND", "1")
    settings.load()
    transport = httpx.ASGITransport(app=routes_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
        with anyio.fail_after(10):
            # The first job holds the only place while it runs (in the threadpool, after its
            # response); the second request arrives meanwhile.
            first, second = await asyncio.gather(
                client.get("/background", params={"seconds": "0.2"}),
                client.get("/background", params={"seconds": "0"}),
            )
            assert first.status_code == 200
            refused(second, 1, "ASGI_LAB_MAX_BACKGROUND")
            assert (await client.get("/background")).status_code == 200
    assert caps.BACKGROUND.active == 0


async def test_lab_records_answer_at_most_the_cap_newest_first(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASGI_LAB_RECORDS_MAX_BYTES", "4096")
    settings.load()
    for _ in range(30):
        await client.get("/quick")
    last = (await client.get("/quick")).headers["x-asgi-lab"].rsplit("request=", 1)[1]
    response = await client.get("/_lab/records", params={"limit": 31})
    body = response.json()
    # The records part stays under the cap; the envelope (served_by) is a few hundred bytes.
    assert len(response.content) < 4096 + 1024
    assert 0 < len(body["records"]) < 31
    assert body["records"][-1]["id"] == last
    assert body["left_out"] == {
        "records": 31 - len(body["records"]),
        "max_bytes": 4096,
        "setting": "ASGI_LAB_RECORDS_MAX_BYTES",
    }


@pytest.mark.serial  # a ratio of two timings
async def test_the_largest_records_answer_does_not_hold_up_quick(
    client: httpx.AsyncClient,
) -> None:
    # Worst case at the default cap: a full ring of records with threadpool hops.
    with anyio.fail_after(60):
        for _ in range(1000):
            await client.get("/sync/sleep", params={"seconds": "0"})
        started = time.perf_counter()
        records = asyncio.ensure_future(client.get("/_lab/records", params={"limit": 1000}))
        quick: list[float] = []
        while not records.done():
            began = time.perf_counter()
            assert (await client.get("/quick")).status_code == 200
            quick.append(time.perf_counter() - began)
            # In-process, a /quick never waits on the loop: give the records' task its turn.
            await anyio.lowlevel.checkpoint()
        took = time.perf_counter() - started
        response = await records
    assert response.status_code == 200 and len(response.json()["records"]) == 1000
    # The encoding runs on a worker thread: /quick keeps being answered meanwhile, typically in
    # a small fraction of the big answer's time (the median: a GC pause may hit any one).
    assert quick, f"no /quick answered during the {took:.3f} s of /_lab/records"
    assert statistics.median(quick) < took / 4, (statistics.median(quick), len(quick), took)
