"""The live page's parts: snapshots and their bounds, the board, the channel, the publisher, the
page's server."""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from asgi_lab.live import Board, loopback, open_live
from asgi_lab.live.channel import Channel
from asgi_lab.live.server import MAX_CLIENTS, PageServer
from asgi_lab.probe import ProbeMiddleware
from asgi_lab.probe.live import Publisher
from asgi_lab.records.snapshot import (
    MAX_BYTES,
    MAX_TEXT,
    VERSION,
    RequestNow,
    Snapshot,
    encode,
    parse,
)

#: The app the live page is tested on (its blocking line ends with `# BLOCKS`).
LIVE_APP = Path(__file__).parent / "apps" / "live_app.py"


def blocking_line() -> str:
    """`tests/apps/live_app.py:N`, N the line that blocks the loop."""
    [number] = [
        n
        for n, line in enumerate(LIVE_APP.read_text().splitlines(), 1)
        if line.endswith("# BLOCKS")
    ]
    return f"tests/apps/live_app.py:{number}"


# Snapshots: one datagram, bounded, plain JSON.


def snapshot(pid: int = 4242, ppid: int = 1, **more: Any) -> Snapshot:
    made = Snapshot(
        v=VERSION,
        pid=pid,
        ppid=ppid,
        at_ns=time.time_ns(),
        loops=[],
        pools=[],
        in_flight=0,
        requests=[],
        requests_total=0,
        rps=0.0,
        stalls=[],
        dropped=0,
    )
    made.update(more)  # type: ignore[typeddict-item]
    return made


def request(n: int, path: str = "/x") -> RequestNow:
    return RequestNow(
        id=f"4242-{n}",
        method="GET",
        path=path,
        age_ms=1.0,
        loop="4242:1",
        state="loop",
        thread=None,
        pool=None,
    )


def test_a_snapshot_round_trips_and_anything_else_is_refused() -> None:
    sent = snapshot(requests=[request(1)], in_flight=1)
    assert parse(encode(sent)) == sent
    for bad in [b"", b"not json", b"[]", b'{"v": 1}', b'{"v": 1, "pid": true}']:
        assert parse(bad) is None, bad
    assert parse(json.dumps({**sent, "v": VERSION + 1}).encode()) is None


def test_a_snapshot_too_big_for_a_datagram_keeps_its_oldest_requests() -> None:
    many = [request(n, "/" + "p" * MAX_TEXT) for n in range(2000)]
    data = encode(snapshot(requests=many, in_flight=len(many)))
    assert len(data) <= MAX_BYTES
    back = parse(data)
    assert back is not None and back["in_flight"] == 2000
    kept = back["requests"]
    assert 0 < len(kept) < 2000 and kept == many[: len(kept)]


# The board: the latest word of each worker, who is gone, who took over.


def test_the_board_shows_a_silent_worker_as_gone_and_its_successor_in_its_place() -> None:
    board = Board()
    board.take(snapshot(pid=10, ppid=1), now=0.0)
    board.take(snapshot(pid=11, ppid=1), now=0.0)
    board.take(snapshot(pid=99, ppid=2), now=0.1)  # another supervisor's: never an heir
    board.take(snapshot(pid=10, ppid=1, rps=5.0), now=0.5)
    view = board.view(now=0.6)
    assert [(w["pid"], w["state"]) for w in view["workers"]] == [
        (10, "live"),
        (11, "live"),
        (99, "live"),
    ]
    assert view["workers"][0]["snapshot"]["rps"] == 5.0
    # 11 falls silent; 12 appears; 10 and 99 keep talking.
    board.take(snapshot(pid=12, ppid=1), now=1.2)
    for pid, ppid in ((10, 1), (99, 2)):
        board.take(snapshot(pid=pid, ppid=ppid), now=1.5)
    view = board.view(now=1.6)
    shown = [(w["pid"], w["state"], w["succeeds"], w["successor"]) for w in view["workers"]]
    assert shown == [
        (10, "live", None, None),
        (11, "gone", None, 12),
        (12, "live", 11, None),
        (99, "live", None, None),
    ]
    # Long gone is forgotten.
    board.take(snapshot(pid=12, ppid=1), now=40.0)
    assert [w["pid"] for w in board.view(now=40.0)["workers"]] == [12]


# The channel: a socket in a private directory, removed on close.


def wait_for(what: str, check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.01)


def test_the_channel_takes_snapshots_refuses_the_rest_and_leaves_nothing_behind() -> None:
    board = Board()
    channel = Channel(board).open()
    path = Path(channel.path)
    try:
        assert path.is_socket()
        assert (path.parent.stat().st_mode & 0o777) == 0o700, "only this user may send"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.sendto(encode(snapshot(pid=7)), str(path))
            sender.sendto(b"garbage", str(path))
        wait_for("both datagrams read", lambda: board.received + board.refused == 2)
        assert (board.received, board.refused) == (1, 1)
        assert [w["pid"] for w in board.view()["workers"]] == [7]
    finally:
        channel.close()
    assert not path.parent.exists()


# The publisher: never blocks, never grows, whatever the parent does.


def test_a_publisher_drops_what_a_full_or_missing_parent_cannot_take(tmp_path: Path) -> None:
    probe = ProbeMiddleware(lambda s, r, q: None, trace=None)  # type: ignore[arg-type, return-value]
    path = tmp_path / "parent.sock"
    publisher = Publisher(probe, str(path))
    publisher.start()
    try:
        assert not publisher.send(b"{}") and publisher.dropped == 1, "nobody listens yet"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as parent:
            parent.bind(str(path))  # bound and never read: its queue fills
            began = time.monotonic()
            results = [publisher.send(b"x" * 1000) for _ in range(2000)]
            assert time.monotonic() - began < 10, "a send never waits"
            assert any(results) and not all(results)
            assert publisher.dropped == 1 + results.count(False)
    finally:
        publisher.stop()
    publisher.stop()  # idempotent


@pytest.mark.anyio
async def test_a_snapshot_names_the_request_its_thread_and_the_pools_tokens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inside, release = threading.Event(), threading.Event()

    def held(request: Request) -> PlainTextResponse:
        inside.set()
        release.wait(10)
        return PlainTextResponse("done")

    async def quick(request: Request) -> PlainTextResponse:
        return PlainTextResponse("quick")

    app = Starlette(routes=[Route("/held/{secret}", held), Route("/quick", quick)])
    board = Board()
    channel = Channel(board).open()
    monkeypatch.setenv("ASGI_LAB_LIVE", channel.path)
    probe = ProbeMiddleware(app, trace=None, threads=3)
    transport = httpx.ASGITransport(app=probe)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://live") as client:
            await client.get("/quick")  # the probe starts on its first request
            assert probe.block_ms == 100.0, "live turns the watchdog on"
            assert probe.live is not None
            async with anyio.create_task_group() as group:
                group.start_soon(client.get, "/held/x%0a1")
                await anyio.to_thread.run_sync(inside.wait, 10)
                now = probe.live.snapshot()
                release.set()
            # What the channel received, from the publisher's own thread.
            await anyio.to_thread.run_sync(
                wait_for, "a snapshot from this worker", lambda: board.received > 0
            )
    finally:
        release.set()
        await probe.aclose()
        channel.close()
    assert now["pid"] == os.getpid() and now["requests_total"] == 2
    [held_now] = now["requests"]
    assert (held_now["method"], held_now["path"], held_now["state"]) == (
        "GET",
        "/held/x\\n1",  # control characters escaped, as in every report
        "thread",
    )
    assert held_now["pool"] == "anyio" and held_now["thread"] is not None
    assert held_now["thread"]["id"] != threading.get_native_id()
    [loop] = now["loops"]
    [anyio_pool] = [p for p in now["pools"] if p["name"] == "anyio"]
    assert (anyio_pool["size"], anyio_pool["busy"], anyio_pool["queued"]) == (3, 1, 0)
    assert anyio_pool["loop"] == loop["id"] == held_now["loop"]
    assert loop["lag_ms"] is not None and loop["stall"] is None
    [seen] = board.view()["workers"]
    assert seen["pid"] == os.getpid()


# The page's server: the page, its events, and a bound on who reads them.


def test_the_page_is_self_contained_and_its_events_bounded() -> None:
    board = Board()
    board.take(snapshot(pid=5))
    server = PageServer(board).start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(server.url, timeout=10) as answer:
            page = answer.read().decode()
        assert "EventSource" in page and "<script src" not in page and "https://" not in page
        streams = []
        try:
            for _ in range(MAX_CLIENTS):
                stream = urllib.request.urlopen(server.url + "events", timeout=10)
                streams.append(stream)
                assert stream.readline() == b"retry: 1000\n"
                stream.readline()
                frame = json.loads(stream.readline().removeprefix(b"data: "))
                assert [w["pid"] for w in frame["workers"]] == [5]
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(server.url + "events", timeout=10)
            refused.value.close()
            assert refused.value.code == 503
        finally:
            for stream in streams:
                stream.close()
    finally:
        server.stop()


def test_open_live_warns_for_another_host_than_loopback() -> None:
    said = io.StringIO()
    with open_live("0.0.0.0", 0, echo=said) as live:
        assert Path(live.channel).is_socket()
    assert "warning: the live page listens on 0.0.0.0" in said.getvalue()
    assert not Path(live.channel).parent.exists()
    quiet = io.StringIO()
    with open_live("127.0.0.1", 0, echo=quiet):
        pass
    assert quiet.getvalue() == ""
    assert loopback("::1") and loopback("localhost") and not loopback("example.org")


def test_without_live_the_probe_starts_no_publisher_and_no_watchdog() -> None:
    probe = ProbeMiddleware(lambda s, r, q: None, trace=None)  # type: ignore[arg-type, return-value]
    probe.start()
    assert probe.live is None and probe.block_ms == 0
