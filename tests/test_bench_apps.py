"""The benchmark's floor variants do what their names say, so the figures compare like with like."""

from __future__ import annotations

import pytest

from asgi_lab.records import HEADER
from asgi_lab.types import Message, Receive, Scope, Send
from bench.apps.probe_variants import _current, least_probe_of, pass_through_of

pytestmark = pytest.mark.anyio

SCOPE: Scope = {"type": "http", "method": "GET", "path": "/quick", "headers": []}


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    seen.append(_current.get())
    await send({"type": "http.response.start", "status": 201, "headers": [(b"a", b"b")]})
    await send({"type": "http.response.body", "body": b"hi"})


seen: list[object] = []


async def call(app: object) -> tuple[list[Message], Send]:
    """What the app sent, and the `send` the server gave it."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(dict(SCOPE), receive, send)  # type: ignore[operator]
    return sent, send


async def test_the_least_probe_records_and_adds_the_one_header() -> None:
    app = least_probe_of(hello)
    (first, _), (second, _) = await call(app), await call(app)
    values = [dict(m[0]["headers"])[HEADER.encode()] for m in (first, second)]
    assert [v.rsplit(b"-", 1)[1] for v in values] == [b"1", b"2"], "one number per request"
    record = seen[-1]
    assert record is not None and record.status == 201 and record.end_ns >= record.start_ns  # type: ignore[attr-defined]
    assert _current.get() is None, "the context variable is reset after the request"


async def test_pass_through_wraps_send_and_changes_nothing() -> None:
    given: list[object] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        given.append(send)
        await hello(scope, receive, send)

    sent, server_send = await call(pass_through_of(inner))
    assert given and given[0] is not server_send, "the app got a wrapper, not the server's send"
    assert sent[0]["headers"] == [(b"a", b"b")] and sent[1]["body"] == b"hi"
