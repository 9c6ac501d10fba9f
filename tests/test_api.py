"""Layer 2 only: where each kind of dependency runs, and the thread-local trap."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import anyio
import anyio.to_thread
import fastapi
import httpx
import pytest
from starlette.responses import JSONResponse  # fastapi has it only in fastapi.responses

import asgi_lab.framework as framework
from asgi_lab.api import app
from tests.conftest import facts

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://lab")


async def test_each_kind_of_dependency_runs_where_fastapi_runs_it(api: httpx.AsyncClient) -> None:
    async with api:
        response = await api.get("/deps/hops")
        body = response.json()
        records = (await api.get("/_lab/records", params={"limit": 2})).json()["records"]
    loop = threading.get_native_id()
    ran = {kind: where["native_id"] for kind, where in body["dependencies"].items()}
    assert ran["async"] == ran["async_gen"] == loop
    assert ran["sync"] != loop and ran["sync_gen"] != loop
    assert body["endpoint_thread"]["native_id"] != loop
    assert str(facts(response).thread) == str(body["endpoint_thread"]["native_id"])
    [record] = [r for r in records if r["path"] == "/deps/hops"]
    calls = [hop["call"] for hop in record["hops"]]
    # The sync dependency, the sync generator's enter (and its exit, after the response), and
    # the endpoint: each a separate trip to the threadpool.
    assert "sync_dep" in calls
    assert [hop["endpoint"] for hop in record["hops"]].count(True) == 1
    assert len(calls) >= 4


async def test_alone_a_request_finds_its_thread_local_session(api: httpx.AsyncClient) -> None:
    # With no other request in flight, the dependency's thread is the one that went idle last,
    # and anyio hands that one to the endpoint: the trap stays hidden until requests overlap.
    async with api:
        body = (await api.get("/deps/thread-local")).json()
    assert body["dependency_thread"] == body["endpoint_thread"]
    assert body["same_session"] is True


@dataclass(frozen=True)
class Opened:
    """What the test's dependency hands the endpoint: its session and the thread it ran on."""

    session: str
    thread: int


#: How long any one step of the scenario may take; nothing in it waits on purpose.
STEP = 10


async def until(condition: Callable[[], bool]) -> None:
    """Wait for a fact kept on a worker thread or inside anyio's limiter, which have no awaitable
    to wait on; the caller's `fail_after` bounds the wait."""
    while not condition():  # noqa: ASYNC110 (a threading.Event or a count: nothing to await)
        await anyio.sleep(0.001)


async def lose_a_session(fw: ModuleType) -> dict[str, tuple[str, str, str | None]]:
    """Three requests on two tokens, ordered so that R1's endpoint runs on R2's thread.

    The app: a sync dependency puts a "session" (its request's name) in a thread-local, then
    blocks until the test releases that request; the sync endpoint reports what it finds there.
    The rules it relies on, both anyio's: a released token goes straight to the first task
    waiting for one (FIFO), and a call takes the worker thread that went idle last (LIFO).

    1. R1's and R2's dependencies run, on threads A and B: both tokens are out.
    2. R3 arrives and waits for a token.
    3. R1's dependency returns: A goes idle, R1's token goes to R3, whose dependency takes A.
       R1 now waits for a token for its endpoint.
    4. R2's dependency returns: B goes idle, R2's token goes to R1, whose endpoint takes B and
       finds R2's session there, not its own. R2 waits; when R1 is done it gets R1's token and
       B again, and finds its own session.
    5. R3 is released last, once R1 and R2 have their answers, so its token cannot race them.

    Returns, per request, the dependency's thread, the endpoint's thread (as letters A, B in
    the order first seen, so two runs compare equal) and the session the endpoint found.
    """
    names = ("R1", "R2", "R3")
    started = {name: threading.Event() for name in names}
    release = {name: threading.Event() for name in names}
    sessions = threading.local()

    def open_session(rid: str) -> Opened:
        sessions.current = rid
        started[rid].set()
        # Bounded: a step that never comes fails this request instead of holding the thread.
        if not release[rid].wait(STEP):
            raise TimeoutError(f"{rid} was never released")
        return Opened(rid, threading.get_native_id())

    # The default-value form: under `from __future__ import annotations` an Annotated[...] that
    # names this local function could not be resolved by either framework.
    def use_session(opened: Opened = fw.Depends(open_session)) -> JSONResponse:  # noqa: B008
        found = getattr(sessions, "current", None)
        return JSONResponse(
            {"opened": opened.thread, "found": found, "endpoint": threading.get_native_id()}
        )

    app = fw.FastAPI()
    app.add_api_route("/session", use_session, methods=["GET"])

    limiter = anyio.to_thread.current_default_thread_limiter()
    saved = limiter.total_tokens
    limiter.total_tokens = 2
    answers: dict[str, dict[str, Any]] = {}
    answered = {name: anyio.Event() for name in names}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:

            async def send(rid: str) -> None:
                answers[rid] = (await client.get("/session", params={"rid": rid})).json()
                answered[rid].set()

            with anyio.fail_after(STEP):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(send, "R1")
                    await until(started["R1"].is_set)
                    tg.start_soon(send, "R2")
                    await until(started["R2"].is_set)
                    tg.start_soon(send, "R3")
                    await until(lambda: limiter.statistics().tasks_waiting == 1)
                    assert not started["R3"].is_set(), "R3 must wait for a token"

                    release["R1"].set()
                    await until(started["R3"].is_set)
                    # R1 has given its token away and queues again, for its endpoint.
                    await until(lambda: limiter.statistics().tasks_waiting == 1)
                    assert not answered["R1"].is_set()

                    release["R2"].set()
                    await answered["R1"].wait()
                    await answered["R2"].wait()
                    release["R3"].set()
    finally:
        # Never leave a worker thread blocked, whatever failed.
        for event in release.values():
            event.set()
        limiter.total_tokens = saved

    letters: dict[int, str] = {}
    for tid in [answers[rid][key] for key in ("opened", "endpoint") for rid in names]:
        if tid not in letters:
            letters[tid] = "ABCDEF"[len(letters)]
    return {
        rid: (letters[a["opened"]], letters[a["endpoint"]], a["found"])
        for rid, a in answers.items()
    }


async def test_a_thread_local_session_is_lost_when_threads_differ() -> None:
    ours = await lose_a_session(framework)
    # R1's dependency ran on A and its endpoint on B, where R2's session was: R1 lost its own
    # and was handed another request's. R2 and R3 kept their thread and found their own.
    assert ours == {"R1": ("A", "B", "R2"), "R2": ("B", "B", "R2"), "R3": ("A", "A", "R3")}
    # FastAPI makes the same trips to the threadpool, so it loses the same session.
    assert await lose_a_session(fastapi) == ours
