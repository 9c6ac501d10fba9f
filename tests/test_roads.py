"""Every road off the loop, on real servers: each framework's sync views, and an `async def`
sending a call away by each asyncio road, under uvicorn on asyncio and on uvloop.

Each view answers the native id of the thread it ran on; the probe's header must name that
thread, and its record must hold a hop on it through the right pool.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from asgi_lab.records.lines import read_records
from asgi_lab.records.schema import HopData, RecordData
from asgi_lab.serving import Server
from asgi_lab.settings import Settings
from tests.conftest import facts, serve

pytestmark = pytest.mark.server

LOOPS = ["asyncio", "uvloop"]


@pytest.fixture(params=LOOPS)
def loop(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def served(app: str, loop: str, trace: Path) -> Server:
    return serve(f"tests.apps.{app}:app", loop=loop, settings=Settings(trace_dir=str(trace)))


def records(trace: Path, count: int) -> Iterator[RecordData]:
    """The first `count` records the server wrote, waiting for its writer (at most 10 s)."""
    deadline = time.monotonic() + 10
    while True:
        found = read_records(trace) if trace.exists() else []
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) >= count, f"{len(found)} records of {count} in {trace}"
            return iter(found)
        time.sleep(0.05)  # polling a file the server writes: no event to wait on


def by_path(trace: Path, paths: list[str]) -> dict[str, RecordData]:
    return {r.path: r for r in records(trace, len(paths))}


def on(record: RecordData, tid: int) -> list[HopData]:
    return [h for h in record.hops if h.thread is not None and h.thread.native_id == tid]


def test_django_sync_views_run_on_asgirefs_thread_async_views_on_the_loop(
    loop: str, tmp_path: Path
) -> None:
    paths = ["/sync", "/async", "/loose"]
    with served("roads_django", loop, tmp_path) as server, httpx.Client(base_url=server.url) as c:
        answers = {p: c.get(p) for p in paths}
    sync, async_, loose = (answers[p] for p in paths)
    found = by_path(tmp_path, paths)
    view = sync.json()["tid"]
    assert facts(sync).thread == view == found["/sync"].handler.thread.native_id
    assert found["/sync"].handler.in_threadpool and found["/sync"].loop.impl == loop
    [hop] = [h for h in on(found["/sync"], view) if h.endpoint]
    assert hop.call == "sync_view" and hop.pool.name == "asgiref" and hop.pool.size == 1
    # The async view stays on the loop, though Django's signal receivers left it.
    assert facts(async_).thread == async_.json()["tid"] == found["/async"].loop.thread.native_id
    assert not found["/async"].handler.in_threadpool
    # asgiref's other mode: the loop's default executor, from an async view.
    assert facts(loose).thread == loose.json()["loop"]
    [away] = on(found["/loose"], loose.json()["tid"])
    assert away.call == "get_native_id" and away.pool.name == "default-executor"


def test_quart_sync_routes_run_on_the_default_executor(loop: str, tmp_path: Path) -> None:
    paths = ["/sync", "/async"]
    with served("roads_quart", loop, tmp_path) as server, httpx.Client(base_url=server.url) as c:
        sync, async_ = (c.get(p) for p in paths)
    found = by_path(tmp_path, paths)
    view = sync.json()["tid"]
    assert facts(sync).thread == view == found["/sync"].handler.thread.native_id
    assert found["/sync"].handler.in_threadpool
    [hop] = on(found["/sync"], view)
    assert hop.endpoint and hop.call == "sync_route" and hop.pool.name == "default-executor"
    assert facts(async_).thread == async_.json()["tid"] == found["/async"].loop.thread.native_id


def test_litestar_sync_to_thread_handlers_run_on_the_default_executor(
    loop: str, tmp_path: Path
) -> None:
    paths = ["/sync", "/on-loop", "/async"]
    with served("roads_litestar", loop, tmp_path) as server, httpx.Client(base_url=server.url) as c:
        sync, on_loop, async_ = (c.get(p) for p in paths)
    found = by_path(tmp_path, paths)
    view = sync.json()["tid"]
    assert facts(sync).thread == view == found["/sync"].handler.thread.native_id
    assert found["/sync"].handler.in_threadpool
    [hop] = on(found["/sync"], view)
    assert hop.endpoint and hop.call == "sync_handler" and hop.pool.name == "default-executor"
    for answer in (on_loop, async_):
        assert facts(answer).thread == answer.json()["tid"] == found["/async"].loop.thread.native_id


def test_an_async_def_sends_calls_away_by_every_asyncio_road(loop: str, tmp_path: Path) -> None:
    paths = ["/to-thread", "/default", "/own-pool", "/process"]
    with (
        served("roads_offload", loop, tmp_path) as server,
        httpx.Client(base_url=server.url, timeout=60) as c,
    ):
        answers = {p: c.get(p) for p in paths}
    found = by_path(tmp_path, paths)
    pools = {"/to-thread": "default-executor", "/default": "default-executor"}
    pools["/own-pool"] = "executor:reports"
    for path, pool in pools.items():
        answer, record = answers[path].json(), found[path]
        assert facts(answers[path]).thread == answer["loop"] == record.loop.thread.native_id
        assert not record.handler.in_threadpool  # the endpoint is an async def
        [hop] = record.hops
        assert hop.thread is not None and hop.thread.native_id == answer["tid"] != answer["loop"]
        assert hop.call == "get_native_id" and hop.pool.name == pool and not hop.endpoint
        assert hop.called_ns <= hop.start_ns <= hop.end_ns <= record.end_ns
    default = found["/default"].hops[0].pool
    assert default.size is not None and 5 <= default.size <= 32  # min(32, cpus + 4)
    assert found["/own-pool"].hops[0].pool.size is None  # max_workers is not public
    # A process pool: the parent knows the call and the answer, not the thread.
    [hop] = found["/process"].hops
    assert hop.pool.processes and hop.pool.name.startswith("processes:") and hop.thread is None
    assert answers["/process"].json()["pid"] != found["/process"].pid
    assert hop.called_ns < hop.end_ns <= found["/process"].end_ns
