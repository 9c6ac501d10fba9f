"""The probe around apps it did not write: plain Starlette and FastAPI, handlers untouched."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import fastapi
import httpx
import pytest
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from asgi_lab.probe import JsonLines, ProbeMiddleware, Record, RecordWriter, current_loop
from asgi_lab.records import RecordData, json_line
from asgi_lab.records.ledger import read_ledgers
from asgi_lab.types import ASGIApp, Message
from tests.conftest import facts, run_lifespan

pytestmark = pytest.mark.anyio


def where() -> dict[str, int]:
    """What a handler knows about itself, to compare with what the probe says."""
    return {"native_id": threading.get_native_id()}


def starlette_app() -> Starlette:
    def sync_endpoint(request: Request) -> JSONResponse:
        return JSONResponse(where())

    async def async_endpoint(request: Request) -> JSONResponse:
        return JSONResponse(where())

    class Both(HTTPEndpoint):
        def get(self, request: Request) -> JSONResponse:
            return JSONResponse(where())

        async def post(self, request: Request) -> JSONResponse:
            return JSONResponse(where())

    def boom(request: Request) -> JSONResponse:
        raise RuntimeError("boom")

    return Starlette(
        routes=[
            Route("/sync", sync_endpoint),
            Route("/async", async_endpoint),
            Route("/class", Both, methods=["GET", "POST"]),
            Route("/boom", boom),
        ]
    )


def fastapi_app() -> fastapi.FastAPI:
    app = fastapi.FastAPI()
    seen: dict[str, int] = {}

    def sync_dependency() -> int:
        seen["dependency"] = threading.get_native_id()
        return seen["dependency"]

    @app.get("/sync")
    def sync_endpoint(dep: int = fastapi.Depends(sync_dependency)) -> dict[str, int]:
        return {**where(), "dependency": dep}

    @app.get("/async")
    async def async_endpoint(dep: int = fastapi.Depends(sync_dependency)) -> dict[str, int]:
        return {**where(), "dependency": dep}

    return app


def probed_client(app: ASGIApp) -> tuple[ProbeMiddleware, httpx.AsyncClient]:
    probe = ProbeMiddleware(app, trace=None)
    transport = httpx.ASGITransport(app=probe)
    return probe, httpx.AsyncClient(transport=transport, base_url="http://lab")


def last_record(probe: ProbeMiddleware) -> dict[str, Any]:
    return probe.ring.recent(1)[0].data().to_json()


async def test_starlette_def_endpoint_is_seen_on_its_worker_thread() -> None:
    probe, client = probed_client(starlette_app())
    async with client:
        response = await client.get("/sync")
    ran_on = response.json()["native_id"]
    assert ran_on != threading.get_native_id()
    assert str(facts(response).thread) == str(ran_on)
    record = last_record(probe)
    assert record["handler"]["thread"]["native_id"] == ran_on
    assert record["handler"]["in_threadpool"] is True
    [hop] = record["hops"]
    assert (hop["call"], hop["endpoint"]) == ("starlette_app.<locals>.sync_endpoint", True)
    assert hop["thread"]["native_id"] == ran_on
    assert hop["called_ns"] <= hop["start_ns"] <= hop["end_ns"]


async def test_starlette_async_endpoint_is_seen_on_the_loop() -> None:
    probe, client = probed_client(starlette_app())
    async with client:
        response = await client.get("/async")
    assert response.json()["native_id"] == threading.get_native_id()
    assert str(facts(response).thread) == str(threading.get_native_id())
    assert last_record(probe)["hops"] == []


async def test_starlette_class_endpoint_methods() -> None:
    probe, client = probed_client(starlette_app())
    async with client:
        sync = await client.get("/class")
        async_ = await client.post("/class")
    assert str(facts(sync).thread) == str(sync.json()["native_id"])
    assert sync.json()["native_id"] != threading.get_native_id()
    assert str(facts(async_).thread) == str(threading.get_native_id())


async def test_fastapi_sync_endpoint_not_its_dependency_is_the_handler() -> None:
    probe, client = probed_client(fastapi_app())
    async with client:
        response = await client.get("/sync")
    body = response.json()
    assert str(facts(response).thread) == str(body["native_id"])
    record = last_record(probe)
    first, *rest = record["hops"]
    # FastAPI runs the dependency, then the endpoint (through a wrapper of its own), each in the
    # threadpool, and may validate the response there too.
    assert (first["call"], first["endpoint"]) == ("fastapi_app.<locals>.sync_dependency", False)
    assert first["thread"]["native_id"] == body["dependency"]
    [endpoint] = [hop for hop in rest if hop["endpoint"]]
    assert endpoint["thread"]["native_id"] == body["native_id"]
    assert endpoint["called_ns"] >= first["end_ns"]


async def test_fastapi_async_endpoint_with_a_sync_dependency() -> None:
    probe, client = probed_client(fastapi_app())
    async with client:
        response = await client.get("/async")
    body = response.json()
    assert body["native_id"] == threading.get_native_id()
    assert body["dependency"] != threading.get_native_id()
    assert str(facts(response).thread) == str(threading.get_native_id())
    [hop] = last_record(probe)["hops"]
    assert hop["endpoint"] is False


async def test_without_an_endpoint_in_scope_the_last_hop_before_the_response_counts() -> None:
    async def bare(scope: Any, receive: Any, send: Any) -> None:
        ran_on = await anyio.to_thread.run_sync(threading.get_native_id)
        await PlainTextResponse(str(ran_on))(scope, receive, send)

    probe, client = probed_client(bare)
    async with client:
        response = await client.get("/")
    assert str(facts(response).thread) == response.text


async def test_a_crashing_app_is_recorded_as_500_and_the_error_propagates() -> None:
    probe, client = probed_client(starlette_app())
    async with client:
        with pytest.raises(RuntimeError, match="boom"):
            await client.get("/boom")
    record = last_record(probe)
    assert record["status"] == 500
    assert "boom" in record["error"]


async def test_record_times_line_up_on_the_wall_clock() -> None:
    probe, client = probed_client(starlette_app())
    before = time.time_ns()
    async with client:
        await client.get("/sync")
    after = time.time_ns()
    record = last_record(probe)
    assert before <= record["start_ns"] <= record["response_ns"] <= record["end_ns"] <= after
    assert 0 < record["duration_ns"] <= after - before
    assert record["method"] == "GET"
    assert record["path"] == "/sync"
    assert record["client"] == "127.0.0.1:123"


async def test_headers_can_be_turned_off() -> None:
    probe = ProbeMiddleware(starlette_app(), headers=False, trace=None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=probe), base_url="http://x"
    ) as c:
        response = await c.get("/async")
    assert not [k for k in response.headers if k.startswith("x-asgi-lab")]
    assert len(probe.ring) == 1


async def test_the_ring_is_bounded() -> None:
    probe = ProbeMiddleware(starlette_app(), ring_size=3, trace=None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=probe), base_url="http://x"
    ) as c:
        ids = [facts(await c.get("/async")).request for _ in range(5)]
    assert [r.id for r in probe.ring.recent()] == ids[-3:]


def test_each_event_loop_gets_its_own_id() -> None:
    async def loop_id() -> str:
        return current_loop().id

    first, second = asyncio.run(loop_id()), asyncio.run(loop_id())
    assert first != second


async def test_threadpool_calls_outside_a_request_are_not_recorded() -> None:
    probe, client = probed_client(starlette_app())
    async with client:
        await client.get("/async")
    await anyio.to_thread.run_sync(lambda: None)
    assert last_record(probe)["hops"] == []


def read_trace(directory: Path) -> list[dict[str, Any]]:
    [path] = directory.glob("records-*")  # beside it, the worker's ledger
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_json_lines_are_complete_after_lifespan_shutdown(tmp_path: Path) -> None:
    # A long interval: only the shutdown flush can have written the lines.
    probe = ProbeMiddleware(starlette_app(), trace=tmp_path, writer_interval=60)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=probe), base_url="http://x"
    ) as c:
        ids = [facts(await c.get(u)).request for u in ["/sync", "/async"] * 10]
    assert await run_lifespan(probe) == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    lines = read_trace(tmp_path)
    assert [line["id"] for line in lines] == ids
    assert lines[0]["hops"][0]["endpoint"] is True
    # The ledger counted every record and says the writer closed: no death to report.
    [ledger] = read_ledgers(tmp_path).values()
    assert (ledger.pid, ledger.made, ledger.exact, ledger.closed) == (os.getpid(), 20, True, True)


async def test_the_writer_formats_and_writes_off_the_loop_thread() -> None:
    class Watched(io.StringIO):
        threads: set[str] = set()

        def write(self, text: str) -> int:
            self.threads.add(threading.current_thread().name)
            return super().write(text)

    stream = Watched()
    probe = ProbeMiddleware(starlette_app(), trace=stream, writer_interval=0)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=probe), base_url="http://x"
    ) as c:
        for _ in range(5):
            await c.get("/async")
    await probe.aclose()
    assert Watched.threads == {"asgi-lab-sink JsonLines"}  # its own lane, never the loop
    assert len(stream.getvalue().splitlines()) == 5


def test_a_closed_writer_opens_nothing_and_drops_later_records(tmp_path: Path) -> None:
    writer = RecordWriter([JsonLines(tmp_path / "never")])
    writer.close()
    writer.close()
    assert writer.written == 0
    assert not (tmp_path / "never").exists()


async def test_a_missing_trace_directory_is_created_one_file_per_process(tmp_path: Path) -> None:
    directory = tmp_path / "not" / "yet"
    probe = ProbeMiddleware(starlette_app(), trace=directory, writer_interval=0)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=probe), base_url="http://x"
    ) as c:
        await c.get("/async")
    await probe.aclose()
    names = sorted(p.name for p in directory.iterdir())
    assert names == [f"records-{os.getpid()}.jsonl", f"worker-{os.getpid()}.json"]
    path = directory / names[0]
    assert len(path.read_text().splitlines()) == 1


async def test_an_unwritable_trace_stops_startup_and_never_fails_a_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    # A directory cannot be made inside a file: the app must not start as configured.
    probe = ProbeMiddleware(starlette_app(), trace=blocker / "traces", writer_interval=0)
    messages: list[Message] = []
    said = await run_lifespan(probe, messages=messages)
    assert said[0] == "lifespan.startup.failed"
    assert "trace must be a directory this process can write" in messages[0]["message"]
    # Served without a lifespan, requests go through unprobed, and the fault is said once.
    probe = ProbeMiddleware(starlette_app(), trace=blocker / "traces", writer_interval=0)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=probe), base_url="http://x"
    ) as c:
        statuses = [(await c.get("/async")).status_code for _ in range(3)]
    await probe.aclose()
    assert statuses == [200, 200, 200] and len(probe.ring) == 0
    assert probe.probe_faults["begin"] == 3
    assert caplog.text.count("probe step 'begin' failed") == 1


async def test_a_failing_stream_stops_the_writer_and_later_records_are_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Full(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

    probe = ProbeMiddleware(starlette_app(), trace=Full(), writer_interval=0)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=probe), base_url="http://x"
    ) as c:
        await c.get("/async")
        writer = probe.writer
        assert writer is not None
        # The writer fails on its own thread and, with no sink left, ends: wait, bounded.
        await anyio.to_thread.run_sync(writer.join, 5)
        assert not writer.running
        assert isinstance(writer.error, OSError)
        assert (await c.get("/async")).status_code == 200
    assert writer.buffered == 0  # nothing piles up behind a dead writer
    assert "No space left on device" in caplog.text


async def test_records_never_share_their_hops_blocks_or_waits() -> None:
    # Empty ones are class attributes (a new record sets only what it knows on arrival): the
    # first addition must give the record a list of its own, not grow one all records share.
    from asgi_lab.probe.record import Hop
    from asgi_lab.records import BlockData, WaitData

    loop = current_loop()
    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    first, second = Record(1, scope, loop, 0), Record(2, scope, loop, 0)
    first.add_hop(Hop("f", True, 1, "anyio", 40, 0, 0))
    first.add_hop(Hop("g", False, 2, "anyio", 40, 0, 0))
    first.add_block(BlockData(1.0, "a.py", 1, "f", (), "blocked", 0))
    first.add_wait(WaitData(None, 1.0, "starved"))
    assert [h.call for h in first.hops] == ["f", "g"]
    assert (len(first.blocks), len(first.waited_on)) == (1, 1)
    assert (second.hops, second.blocks, second.waited_on) == ((), (), ())
    assert second.data().hops == () and first.data().threadpool.total == loop.limiter.total_tokens


async def test_a_json_line_says_exactly_what_to_json_says() -> None:
    probe, client = probed_client(fastapi_app())
    async with client:
        await client.get("/sync")
        await client.get("/caf\u00e9?x=1")
    for record in probe.ring:
        data = record.data()
        assert json.loads(json_line(data)) == data.to_json()
    record.client = None
    record.error = 'ValueError("quote \\" and \u00e9")'
    record.total = float("inf")
    data = dataclasses.replace(record.data(), dropped=3)
    line = json_line(data)
    assert line.endswith("}\n") and line.count("\n") == 1
    assert json.loads(line) == data.to_json()
    assert RecordData.from_json(json.loads(line)) == data


async def test_a_request_still_running_at_shutdown_is_written_as_cut_off(tmp_path: Path) -> None:
    from asgi_lab.records import STILL_RUNNING, read_records

    began, go_on = asyncio.Event(), asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        began.set()
        await go_on.wait()  # a call no shutdown ends, standing in for a thread's sleep
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    probe = ProbeMiddleware(app, trace=tmp_path, watchdog=1000)
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        request = asyncio.ensure_future(client.get("/slow"))
        with anyio.fail_after(10):
            await began.wait()
        await probe.aclose()  # what lifespan shutdown does, the request still running
        go_on.set()
        assert (await request).status_code == 200  # the app's answer, untouched
    [seen] = await anyio.to_thread.run_sync(read_records, tmp_path)
    assert (seen.path, seen.error, seen.cut_off) == ("/slow", STILL_RUNNING, True)
    assert len(probe.ring) == 1  # written once, not again when it ended
