"""Layer 1 only: what Starlette sends to the threadpool besides `def` endpoints."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from asgi_lab.records.schema import HandlerData, LoopData, RecordData
from asgi_lab.routes import app
from asgi_lab.serving import Server
from tests.conftest import facts, serve

LOOP = "the test's own thread, which runs the loop in-process"


@pytest.fixture
async def routes() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://lab"
    ) as client:
        yield client


async def record_of(client: httpx.AsyncClient, response: httpx.Response) -> RecordData:
    records = (await client.get("/_lab/records", params={"limit": 50})).json()["records"]
    wanted = facts(response).request
    [record] = [r for r in map(RecordData.from_json, records) if r.id == wanted]
    return record


def handler_of(response: httpx.Response) -> HandlerData:
    """The `served_by.handler` of a JSON response, in the schema's typed form."""
    return HandlerData.from_json(response.json()["served_by"]["handler"])


def loop_of(response: httpx.Response) -> LoopData:
    return LoopData.from_json(response.json()["served_by"]["loop"])


@pytest.mark.anyio
async def test_class_endpoint_sync_method_in_a_thread_async_on_the_loop(
    routes: httpx.AsyncClient,
) -> None:
    sync = handler_of(await routes.get("/endpoint"))
    async_ = handler_of(await routes.post("/endpoint"))
    assert sync.in_threadpool is True
    assert sync.thread.native_id != threading.get_native_id()
    assert async_.in_threadpool is False
    assert async_.thread.native_id == threading.get_native_id(), LOOP


@pytest.mark.anyio
async def test_a_sync_generator_is_iterated_in_the_threadpool(routes: httpx.AsyncClient) -> None:
    response = await routes.get("/stream", params={"chunks": 4})
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["chunk"] for line in lines] == [0, 1, 2, 3]
    assert threading.get_native_id() not in {line["thread"] for line in lines}
    record = await record_of(routes, response)
    # One trip per chunk, and one more to learn the generator is done; all after the headers.
    assert [hop.call for hop in record.hops] == ["_next"] * 5
    assert all(hop.called_ns >= record.response_ns for hop in record.hops)
    assert record.handler.in_threadpool is False  # the endpoint itself is async


@pytest.mark.anyio
@pytest.mark.parametrize("chunks", ["0", "101", "many"])
async def test_stream_chunks_are_bounded(routes: httpx.AsyncClient, chunks: str) -> None:
    response = await routes.get("/stream", params={"chunks": chunks})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "chunks"]


@pytest.mark.anyio
async def test_a_sync_background_task_runs_in_a_thread_after_the_response(
    routes: httpx.AsyncClient,
) -> None:
    response = await routes.get("/background", params={"seconds": "0.01"})
    assert handler_of(response).in_threadpool is False
    record = await record_of(routes, response)
    [hop] = record.hops
    assert hop.call == "background_job"
    assert hop.thread is not None
    assert hop.thread.native_id != threading.get_native_id()
    assert hop.start_ns >= record.response_ns
    assert record.end_ns >= hop.end_ns


@pytest.mark.anyio
async def test_a_mounted_wsgi_app_runs_in_the_adapters_own_pool(
    routes: httpx.AsyncClient,
) -> None:
    response = await routes.get("/wsgi/hello")
    handler = handler_of(response)
    assert response.json()["path"] == "/hello"
    assert handler.in_threadpool is True
    assert handler.thread.name.startswith("WSGI")
    assert facts(response).thread == handler.thread.native_id
    # a2wsgi does not use anyio's threadpool but its own executor, through the loop's
    # `run_in_executor`: a hop in that pool, no anyio token borrowed.
    [hop] = (await record_of(routes, response)).hops
    assert hop.pool.name == "executor:WSGI" and hop.pool.size is None
    assert hop.thread is not None and hop.thread.native_id == handler.thread.native_id


@pytest.fixture(scope="module")
def routes_server() -> Iterator[Server]:
    with serve("asgi_lab.routes:app") as server:
        yield server


@pytest.mark.server
def test_on_a_real_server_the_client_has_its_answer_before_the_task_ends(
    routes_server: Server,
) -> None:
    with httpx.Client(base_url=routes_server.url, timeout=15) as client:
        response = client.get("/background", params={"seconds": "0.5"})
        # `get` returns once the whole body is read: from here on the client has its answer.
        answered_ns = time.time_ns()
        wanted = facts(response).request
        # The record is kept when the request's ASGI call returns: after the task.
        deadline = time.monotonic() + 10
        found: list[RecordData] = []
        while not found and time.monotonic() < deadline:
            records = client.get("/_lab/records", params={"limit": 10}).json()["records"]
            found = [r for r in map(RecordData.from_json, records) if r.id == wanted]
            if not found:
                time.sleep(0.02)  # a poll's pause: the task ends on its own half a second on
    assert found, f"no record {wanted} within 10 s"
    [record] = found
    [hop] = record.hops
    assert record.pid == routes_server.pid
    # The task slept half a second after the response went out.
    assert hop.end_ns - hop.start_ns >= 500_000_000
    # An ordering, not a duration: the server's clock (time.time_ns, same machine) says the task
    # ended after the client held the whole answer, so the client never waited for the task. A
    # server that ran the task before finishing the response would fail here however fast it was.
    assert answered_ns < hop.end_ns


@pytest.mark.server
def test_on_a_real_server_wsgi_threads_are_not_the_loop(routes_server: Server) -> None:
    with httpx.Client(base_url=routes_server.url, timeout=15) as client:
        response = client.get("/wsgi/")
    assert loop_of(response).thread.native_id == routes_server.pid
    assert handler_of(response).thread.native_id != routes_server.pid
