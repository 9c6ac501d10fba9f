"""The sqlalchemy experiment's app in-process: each lesson's endpoint, one request at a time,
on the wrapper and on FastAPI itself (the same source, `build`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.pool import QueuePool

from asgi_lab.lab.apps import sqla, sqla_fastapi
from tests.conftest import run_lifespan

pytestmark = pytest.mark.anyio

Check = Callable[[httpx.AsyncClient], Awaitable[None]]


@pytest.fixture(autouse=True)
def small_pool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASGI_LAB_DB", str(tmp_path / "lab.sqlite3"))
    monkeypatch.setenv("ASGI_LAB_DB_POOL", "1")
    monkeypatch.setenv("ASGI_LAB_DB_TIMEOUT", "0.2")


@pytest.fixture(params=["wrapper", "fastapi"])
def api(request: pytest.FixtureRequest) -> Any:
    """The app on the wrapper, then the same source on FastAPI itself."""
    return sqla_fastapi.api if request.param == "fastapi" else sqla.api


async def served(api: Any, check: Check) -> None:
    """Run `check` with a client while the app's lifespan is up, as a server would."""

    async def between() -> None:
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
            await check(client)

    assert await run_lifespan(api, between) == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


async def test_an_async_dependency_and_a_sync_endpoint_get_two_scoped_sessions(api: Any) -> None:
    async def check(client: httpx.AsyncClient) -> None:
        body = (await client.get("/sqla/lost")).json()
        assert body["same"] is False
        assert body["dependency_thread"] != body["thread"]

    await served(api, check)


async def test_async_session_and_run_sync_ddl_stay_on_the_loop_thread(api: Any) -> None:
    async def check(client: httpx.AsyncClient) -> None:
        ddl = (await client.get("/sqla/async-ddl")).json()
        assert ddl["ddl_thread"] == ddl["thread"]
        counted = (await client.get("/sqla/async")).json()
        assert (counted["count"], counted["thread"]) == (0, ddl["thread"])

    await served(api, check)


async def test_one_connection_held_while_asking_for_another_times_out_on_a_pool_of_one(
    api: Any,
) -> None:
    async def check(client: httpx.AsyncClient) -> None:
        stuck = await client.get("/sqla/deadlock")
        assert stuck.status_code == 500
        assert "TimeoutError waiting for connection 2" in stuck.json()["error"]
        assert stuck.json()["seconds"] >= 0.2
        released = await client.get("/sqla/deadlock/released")
        assert (released.status_code, released.json()["error"]) == (200, None)
        stats = (await client.get("/sqla/stats")).json()
        assert stats["tight_checked_out"] == 0

    await served(api, check)


async def test_only_finally_closes_the_session_of_a_failed_endpoint(api: Any) -> None:
    async def check(client: httpx.AsyncClient) -> None:
        for how in ("finally", "after-yield"):
            assert (await client.get(f"/sqla/close/{how}")).status_code == 409
        assert (await client.get("/sqla/stats")).json()["closed"] == {"finally": 1}

    await served(api, check)


async def test_the_session_a_lesson_leaks_is_closed_at_shutdown(api: Any) -> None:
    """The after-yield Session of a failed request keeps its connection checked out; the app's
    shutdown gives it back, not the garbage collector whenever the last reference goes (3.13
    warns then of an unclosed sqlite3 connection, in whichever test is running)."""
    returned: list[object] = []

    async def check(client: httpx.AsyncClient) -> None:
        assert (await client.get("/sqla/close/after-yield")).status_code == 409
        pool = sqla.lab().roomy.pool
        assert isinstance(pool, QueuePool) and pool.checkedout() == 1  # nobody closed it
        event.listen(pool, "checkin", lambda connection, _record: returned.append(connection))

    await served(api, check)
    assert len(returned) == 1


async def test_scoped_sessions_are_counted_per_thread(api: Any) -> None:
    async def check(client: httpx.AsyncClient) -> None:
        first = (await client.get("/sqla/scoped")).json()
        stats = (await client.get("/sqla/stats")).json()
        assert stats["sessions"] == len(stats["threads"]) >= 1
        assert first["thread"] in stats["threads"]

    await served(api, check)
