"""The probe sees a client leave without taking a message the app would read (in-process)."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from asgi_lab.probe import ProbeMiddleware
from asgi_lab.probe.middleware import GONE, poll
from asgi_lab.types import Message, Receive, Scope, Send

pytestmark = pytest.mark.anyio


class Server:
    """A receive like uvicorn's: the (empty) body at once, then a wait until the client leaves."""

    def __init__(self, *, gone: bool = False) -> None:
        self.left = asyncio.Event()
        if gone:
            self.left.set()
        self.body_sent = False
        self.calls = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        self.calls += 1
        if not self.body_sent:
            self.body_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)


def scope(*headers: tuple[bytes, bytes]) -> Scope:
    return {"type": "http", "method": "GET", "path": "/slow", "query_string": b"",
            "headers": list(headers), "client": ("127.0.0.1", 1)}  # fmt: skip


def slow_app(seen: list[Message]) -> object:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(0.005)  # the work: longer than the probe's quick path
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        seen.append(await receive())

    return app


async def test_poll_takes_nothing_when_receive_would_wait() -> None:
    server = Server()
    server.body_sent = True
    assert poll(server.receive) is None  # it would wait: nothing taken, the wait withdrawn
    server.left.set()
    assert poll(server.receive) == {"type": "http.disconnect"}


@pytest.mark.parametrize("gone", [False, True])
async def test_a_slow_response_is_checked_and_the_body_is_handed_on(gone: bool) -> None:
    server = Server(gone=gone)
    seen: list[Message] = []
    probe = ProbeMiddleware(slow_app(seen), trace=None, headers=False)  # type: ignore[arg-type]
    with anyio.fail_after(5):
        await probe(scope(), server.receive, server.send)
    [record] = probe.ring
    assert (record.status, bool(record.disconnected_ns)) == ((GONE, True) if gone else (200, False))
    # The app still got the body message the probe looked at, first.
    assert seen == [{"type": "http.request", "body": b"", "more_body": False}]


async def test_a_client_that_expects_100_continue_is_not_polled() -> None:
    server = Server(gone=True)
    seen: list[Message] = []
    probe = ProbeMiddleware(slow_app(seen), trace=None, headers=False)  # type: ignore[arg-type]
    with anyio.fail_after(5):
        await probe(scope((b"expect", b"100-continue")), server.receive, server.send)
    assert server.calls == 1  # only the app's own receive
    [record] = probe.ring
    assert record.status == 200
