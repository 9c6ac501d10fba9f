"""In-process identity: which loop and thread ran each endpoint, for every layer.

httpx's ASGITransport runs the app in the test's own task, so the test's thread *is* the loop
thread; facts about real servers (main thread, pids, workers) live in test_servers.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import threading
import warnings
from typing import Any, NoReturn

import anyio
import anyio.to_thread
import httpx
import pytest

from asgi_lab.probe import LoopInfo, current_loop, current_thread, identity
from tests.conftest import facts, run_lifespan

pytestmark = pytest.mark.anyio


def live_native_ids() -> set[int]:
    return {t.native_id for t in threading.enumerate() if t.native_id is not None}


@pytest.mark.parametrize("url", ["/", "/quick", "/async/sleep?seconds=0", "/async/cpu?ms=1"])
async def test_async_handlers_run_on_the_loop_thread(client: httpx.AsyncClient, url: str) -> None:
    response = await client.get(url)
    assert response.status_code == 200
    served_by = response.json()["served_by"]
    here = threading.get_native_id()
    assert served_by["loop"]["thread"]["native_id"] == here
    assert served_by["handler"]["thread"]["native_id"] == here
    assert served_by["handler"]["in_threadpool"] is False
    assert str(facts(response).thread) == str(here)


@pytest.mark.parametrize("url", ["/sync/sleep?seconds=0", "/sync/cpu?ms=1"])
async def test_sync_handlers_run_on_another_live_thread(
    client: httpx.AsyncClient, url: str
) -> None:
    response = await client.get(url)
    assert response.status_code == 200
    handler = response.json()["served_by"]["handler"]
    native_id = handler["thread"]["native_id"]
    assert native_id != threading.get_native_id()
    assert native_id in live_native_ids()
    assert handler["in_threadpool"] is True
    assert str(facts(response).thread) == str(native_id)


async def test_loop_id_is_stable_across_requests(client: httpx.AsyncClient) -> None:
    urls = ["/quick", "/sync/sleep?seconds=0", "/", "/sync/cpu?ms=0"] * 3
    ids = set()
    for url in urls:
        response = await client.get(url)
        ids.add(response.json()["served_by"]["loop"]["id"])
        ids.add(facts(response).loop)
    assert ids == {current_loop().id}


async def test_threadpool_total_is_40_and_follows_the_limiter(client: httpx.AsyncClient) -> None:
    limiter = anyio.to_thread.current_default_thread_limiter()
    # Put back what was there, not anyio's default: the test must leave the loop as it found it.
    saved = limiter.total_tokens
    assert (await client.get("/quick")).json()["served_by"]["threadpool"]["total"] == 40
    limiter.total_tokens = 7
    try:
        for url in ("/quick", "/sync/sleep?seconds=0"):
            assert (await client.get(url)).json()["served_by"]["threadpool"]["total"] == 7
    finally:
        limiter.total_tokens = saved


async def test_a_running_sync_handler_borrows_a_token(client: httpx.AsyncClient) -> None:
    limiter = anyio.to_thread.current_default_thread_limiter()
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.get, "/sync/sleep?seconds=0.5")
        with anyio.fail_after(5):
            # Every other task is blocked only once the sleeper awaits its worker thread,
            # which is after it took its token.
            await anyio.wait_all_tasks_blocked()
        assert limiter.borrowed_tokens == 1
        quick = (await client.get("/quick")).json()["served_by"]["threadpool"]
    assert quick["borrowed"] == 1
    assert quick["waiting"] == 0


async def test_asgi_lab_threads_is_applied_at_startup(
    layer_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASGI_LAB_THREADS", "5")
    seen: list[int] = []

    async def between() -> None:
        transport = httpx.ASGITransport(app=layer_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
            response = await client.get("/sync/sleep", params={"seconds": 0})
        seen.append(response.json()["served_by"]["threadpool"]["total"])

    limiter = anyio.to_thread.current_default_thread_limiter()
    saved = limiter.total_tokens
    try:
        said = await run_lifespan(layer_app, between)
    finally:
        limiter.total_tokens = saved
    assert said == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert seen == [5]


async def meet_a_loop() -> LoopInfo:
    return current_loop()


def report_from_child(write: int) -> NoReturn:
    """In the forked child: write where it runs to the pipe, and exit without returning."""
    try:
        thread, loop = current_thread(), asyncio.run(meet_a_loop())
        report = {"pid": os.getpid(), "thread": thread.native_id, "loop": loop.data.to_json()}
        os.write(write, json.dumps(report).encode())
    except BaseException as exc:
        os.write(write, json.dumps({"error": repr(exc)}).encode())
    finally:
        os._exit(0)


def test_a_forked_child_starts_its_own_identity_tables() -> None:
    """gunicorn --preload forks its workers: the child must not reuse the parent's cached main
    thread id, its loop count, or a lock some parent thread held at the fork."""
    parent_thread = current_thread()  # cached in the parent's thread-local from here on
    parent_loop = asyncio.run(meet_a_loop())  # the parent's count is past 1 from here on
    assert parent_loop.thread.native_id == parent_thread.native_id == threading.get_native_id()

    # Another parent thread holds the loop table's lock across the fork, as one meeting a loop
    # might: the child inherits the lock taken, with no thread left to release it.
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        with identity._loops_lock:
            taken.set()
            done.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    read, write = os.pipe()
    try:
        assert taken.wait(10)
        with warnings.catch_warnings():
            # Python 3.12+ warns on forking a process with threads (like the holder): the child
            # here only reads our tables and exits, and the parent's wait for it is bounded.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            report_from_child(write)
    finally:
        done.set()
        holder.join(10)
        os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 10)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        report: dict[str, Any] = (
            json.loads(os.read(read, 65536)) if ready else {"error": "no report in 10 s"}
        )
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert "error" not in report, report["error"]
    assert report["pid"] == pid
    # The child's main thread is a new kernel thread: its tid is the child's pid.
    assert report["thread"] == pid != parent_thread.native_id
    assert report["loop"]["id"] == f"{pid}:1"
    assert report["loop"]["thread"]["native_id"] == pid
    # The child's reset left the parent's own tables alone.
    assert current_thread() is parent_thread
