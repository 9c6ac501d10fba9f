"""Layer 0 with parts of the probe, to see what each part costs under uvicorn, and the least
any pure-Python middleware and probe can cost, to see how far from that floor the probe is."""

import itertools
import time
from collections import deque
from contextvars import ContextVar

from asgi_lab.probe import ProbeMiddleware
from asgi_lab.raw import raw_app
from asgi_lab.records import HEADER
from asgi_lab.types import ASGIApp, Message, Receive, Scope, Send

#: The probe's records, without its response header.
no_header = ProbeMiddleware(raw_app, headers=False)

_NAME = HEADER.encode()
#: The header's value but for the request number, as the probe renders it once per thread.
_PREFIX = b"pid=12345; loop=12345:1; thread=12345; request=12345-"
_HEADER = (_NAME, _PREFIX + b"123456")


async def header_only(scope: Scope, receive: Receive, send: Send) -> None:
    """The probe's header, constant, added by the thinnest middleware: no record at all."""
    if scope["type"] != "http":
        await raw_app(scope, receive, send)
        return

    async def send_with_header(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), _HEADER]
        await send(message)

    await raw_app(scope, receive, send_with_header)


def pass_through_of(app: ASGIApp) -> ASGIApp:
    """The least any middleware that sees the response costs: a `send` wrapper, nothing else."""

    async def pass_through(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_on(message: Message) -> None:
            await send(message)

        await app(scope, receive, send_on)

    return pass_through


class _Least:
    """The least a record can be: a number, an arrival time, a path, a status, an end time."""

    __slots__ = ("seq", "start_ns", "path", "status", "end_ns")

    def __init__(self, seq: int, path: str) -> None:
        self.seq, self.start_ns, self.path = seq, time.time_ns(), path
        self.status = self.end_ns = 0


_current: ContextVar[_Least | None] = ContextVar("least_record", default=None)


def least_probe_of(app: ASGIApp) -> ASGIApp:
    """The floor of a pure-Python probe: the smallest record, in a context variable for the
    handler's threads, a status, the one header and a ring, and nothing else (no hops, no
    tokens, no departures, no loop or thread identity): what a probe of this design costs at
    least. (A closure for `send`, as here, costs a little more than the probe's bound methods.)"""
    ring: deque[_Least] = deque(maxlen=1000)
    numbers = itertools.count(1)

    async def least_probe(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        record = _Least(next(numbers), scope["path"])
        token = _current.set(record)

        async def send_probed(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                value = _PREFIX + str(record.seq).encode()
                message["headers"] = [*message.get("headers", ()), (_NAME, value)]
            await send(message)

        try:
            await app(scope, receive, send_probed)
        finally:
            _current.reset(token)
            record.end_ns = time.time_ns()
            ring.append(record)

    return least_probe


pass_through = pass_through_of(raw_app)
least_probe = least_probe_of(raw_app)
