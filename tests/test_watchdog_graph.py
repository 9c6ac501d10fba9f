"""Python 3.14's call graph in the stall report: the tasks awaiting the culprit's task.

No 3.14 runs here: the formatting is tested on graphs shaped as 3.14's `FutureCallGraph`
(`future`, `call_stack` of entries with a `frame`, `awaited_by`), the wiring with such a graph
handed in where `asyncio.capture_call_graph` would be called, and the real path on whatever
Python runs the suite (nothing before 3.14; the chain on 3.14).
"""

from __future__ import annotations

import asyncio
import re
import sys
import threading
import time
from dataclasses import dataclass
from types import CoroutineType, FrameType
from typing import Any

import httpx
import pytest

from asgi_lab.probe import ProbeMiddleware, faults, watchdog
from asgi_lab.probe.watchdog import awaiting_chain
from asgi_lab.records.schema import BlockData, FrameData
from asgi_lab.types import Receive, Scope, Send

HERE = re.escape(FrameData(__file__, 1, "f").where().rsplit(":", 2)[0])


@dataclass(frozen=True)
class Entry:
    """Shaped as 3.14's `asyncio.FrameCallGraphEntry`."""

    frame: FrameType


@dataclass(frozen=True)
class Graph:
    """Shaped as 3.14's `asyncio.FutureCallGraph`."""

    future: Any
    call_stack: tuple[Entry, ...]
    awaited_by: tuple[Graph, ...] = ()


async def awaiting(child: asyncio.Task[None]) -> None:
    await child


def test_the_chain_names_each_awaiter_at_its_own_line_nearest_first() -> None:
    async def main() -> tuple[str, ...]:
        child = asyncio.create_task(asyncio.sleep(0), name="child")
        parent = asyncio.create_task(awaiting(child), name="parent")
        gathering = asyncio.get_running_loop().create_future()
        root = asyncio.current_task()
        assert root is not None
        await asyncio.sleep(0)  # the parent now waits in `awaiting`
        parent_frame = parent.get_coro().cr_frame  # type: ignore[union-attr]
        machinery = asyncio.sleep(1)  # an asyncio frame: never the line named
        assert isinstance(machinery, CoroutineType) and machinery.cr_frame is not None
        try:
            graph = Graph(
                child,
                (),
                (
                    Graph(
                        parent,
                        (Entry(machinery.cr_frame), Entry(parent_frame)),
                        (Graph(gathering, (), (Graph(root, (Entry(sys._getframe()),)),)),),
                    ),
                ),
            )
            return awaiting_chain(graph, {parent: "4242-7"})
        finally:
            machinery.close()
            await child
            await parent

    chain = asyncio.run(main())
    assert len(chain) == 3
    assert re.fullmatch(rf"parent \(4242-7\) at {HERE}:\d+ in awaiting", chain[0]), chain
    assert chain[1] == "Future"  # a bare future (a gather's) has no name and no frames
    assert re.fullmatch(rf"Task-\d+ at {HERE}:\d+ in main", chain[2]), chain


def test_an_old_block_without_a_chain_reads_back() -> None:
    block = BlockData(12.5, "app.py", 9, "g", (), "blocked", 1, (), 3, ("Task-2 at a.py:1 in f",))
    written = block.to_json()
    assert BlockData.from_json(written) == block
    del written["awaited_by"]  # as every trace before this field was written
    assert BlockData.from_json(written).awaited_by == ()


LOOP_THREAD: dict[str, Any] = {}


def blocking_call() -> None:
    time.sleep(0.3)


async def blocker() -> None:
    blocking_call()
    # Still pending when the loop settles the stall: a task already done awaits nothing and is
    # awaited by no one, so it has no chain to show.
    await asyncio.sleep(0.05)


async def outer() -> None:
    async with asyncio.TaskGroup() as group:
        group.create_task(blocker(), name="blocker")


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/stall":
        LOOP_THREAD["ident"] = threading.get_ident()
        task = asyncio.create_task(outer(), name="outer")
        LOOP_THREAD["outer"] = task
        await task
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"done"})


async def one_stall() -> BlockData:
    probe = ProbeMiddleware(app, trace=None, watchdog=20)
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        await client.get("/warm-up", timeout=10)  # the watchdog starts with the first request
        assert (await client.get("/stall", timeout=10)).status_code == 200
    await probe.aclose()
    [record] = [r.data() for r in probe.ring.recent() if r.path == "/stall"]
    [block] = record.blocks
    assert block.function == "blocking_call"
    return block


def test_the_chain_is_captured_on_the_loop_thread_and_lands_in_the_block(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[int, str]] = []

    def capture_call_graph(task: asyncio.Task[Any], *, limit: int) -> Graph:
        # What 3.14 answers for a task in a TaskGroup: the task that entered the group.
        calls.append((threading.get_ident(), task.get_name()))
        outer_task = LOOP_THREAD["outer"]
        return Graph(task, (), (Graph(outer_task, (Entry(outer_task.get_coro().cr_frame),)),))

    monkeypatch.setattr(watchdog, "_capture_call_graph", capture_call_graph)
    block = asyncio.run(one_stall())
    assert calls == [(LOOP_THREAD["ident"], "blocker")]
    [awaiter] = block.awaited_by
    assert re.fullmatch(rf"outer \(\d+-2\) at {HERE}:\d+ in outer", awaiter), awaiter
    assert f"; awaited by {awaiter}" in caplog.text  # the stall's WARNING line says it too


def test_a_failing_call_graph_is_counted_and_the_block_still_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def capture_call_graph(task: asyncio.Task[Any], *, limit: int) -> Graph:
        raise RuntimeError("set changed size during iteration")

    monkeypatch.setattr(watchdog, "_capture_call_graph", capture_call_graph)
    block = asyncio.run(one_stall())
    assert block.awaited_by == ()
    assert faults.counts["watchdog call graph"] == 1
    faults.counts.clear()


def test_the_chain_on_this_python_is_what_its_asyncio_can_tell() -> None:
    block = asyncio.run(one_stall())
    if not hasattr(asyncio, "capture_call_graph"):
        assert sys.version_info < (3, 14)
        assert block.awaited_by == ()
    else:  # 3.14+: not run on these machines yet
        assert re.fullmatch(rf"outer \(\d+-2\) at {HERE}:\d+ in outer", block.awaited_by[0])
