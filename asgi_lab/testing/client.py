"""Probed apps for tests: find the record of each response, by its request id, never by order.

`Probed(app)` wraps an app in `ProbeMiddleware` with the loop watchdog on and keeps what the
assertions need beside the records: which endpoint each request reached and whether it was an
`async def`. Hand `probed.app` to any client (Starlette's `TestClient` included), then ask
`probed.record(response)`. `ProbeClient(app)` does all of it for `async` tests: an
`httpx.AsyncClient` on the probed app, with the app's lifespan run around it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from asgi_lab.probe.hook import current_record
from asgi_lab.probe.middleware import ProbeMiddleware
from asgi_lab.probe.record import Record
from asgi_lab.records.schema import HEADER, HeaderData, RecordData
from asgi_lab.testing import watch
from asgi_lab.testing.lifespan import Lifespan
from asgi_lab.types import ASGIApp, Receive, Scope, Send

__all__ = ["Endpoint", "ProbeClient", "Probed", "ProbedClient", "endpoint_of"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The function a request's route ran, as the assertions name it."""

    name: str
    is_async: bool

    def __str__(self) -> str:
        return f"{'async def' if self.is_async else 'def'} {self.name}"


#: Endpoint of each probed request seen in this process, by (record id, start time): ids alone
#: repeat across probes, since each numbers its requests from 1.
_endpoints: dict[tuple[str, int], Endpoint] = {}


def endpoint_of(record: RecordData) -> Endpoint | None:
    """The endpoint the request reached, when a `Probed` app served it and a router named it."""
    return _endpoints.get((record.id, record.start_ns))


def describe(func: Any) -> Endpoint:
    """`func` as an `Endpoint`: partials unwrapped, `async def` (and async callables) told apart."""
    while isinstance(func, functools.partial):
        func = func.func
    name = getattr(func, "__qualname__", None) or type(func).__qualname__
    is_async = inspect.iscoroutinefunction(func) or (
        not inspect.isroutine(func) and inspect.iscoroutinefunction(type(func).__call__)
    )
    return Endpoint(str(name), is_async)


class Probed:
    """An app wrapped for tests: `app` to serve, `record(response)` and `records` to read."""

    def __init__(self, app: ASGIApp, *, block_ms: float = 20.0, ring_size: int = 10_000) -> None:
        """Wrap `app`; the watchdog reports every loop stall of `block_ms` or more
        ($ASGI_LAB_BLOCK_MS, when set, wins)."""
        self._block_ms = block_ms
        self.probe = ProbeMiddleware(
            self._endpoint_noted(app), ring_size=ring_size, watchdog=block_ms
        )
        self.app: ASGIApp = self.probe
        watch.announce(self)

    @staticmethod
    def _endpoint_noted(app: ASGIApp) -> ASGIApp:
        async def noted(scope: Scope, receive: Receive, send: Send) -> None:
            record = current_record.get()
            try:
                await app(scope, receive, send)
            finally:
                # The router wrote the endpoint into this very scope (Starlette's scope.update).
                endpoint = scope.get("endpoint")
                if record is not None and endpoint is not None:
                    _endpoints[(record.id, record.start_ns)] = describe(endpoint)

        return noted

    @property
    def block_ms(self) -> float:
        """The shortest loop stall the watchdog reports for this app."""
        return self.probe.block_ms or self._block_ms

    def _live(self) -> list[Record]:
        return list(self.probe.ring)

    @property
    def records(self) -> list[RecordData]:
        """Every request this app served so far, oldest first."""
        return [r.data() for r in self._live()]

    def record(self, response: Any) -> RecordData:
        """The record of `response` (httpx's, or any object with `.headers`), by its request id."""
        value = response.headers.get(HEADER)
        if value is None:
            raise AssertionError(
                f"the response has no {HEADER} header: was it served by this probed app?"
            )
        request = HeaderData.parse(value).request
        for live in reversed(self._live()):
            if live.id == request:
                return live.data()
        raise AssertionError(
            f"no record of request {request} among the {len(self.probe.ring)} this app kept"
        )


class ProbedClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` on a `Probed` app, with its `record(response)` and `records`."""

    probed: Probed

    def record(self, response: httpx.Response) -> RecordData:
        """The record of `response`, by the request id in its header."""
        return self.probed.record(response)

    @property
    def records(self) -> list[RecordData]:
        return self.probed.records


def _with_state(app: ASGIApp, state: dict[str, Any]) -> ASGIApp:
    async def stated(scope: Scope, receive: Receive, send: Send) -> None:
        # What a server does: each request gets a shallow copy of the lifespan's state.
        if scope["type"] in ("http", "websocket") and "state" not in scope:
            scope["state"] = dict(state)
        await app(scope, receive, send)

    return stated


@asynccontextmanager
async def ProbeClient(
    app: ASGIApp,
    *,
    block_ms: float = 20.0,
    lifespan_timeout: float = 10.0,
    **httpx_kwargs: Any,
) -> AsyncIterator[ProbedClient]:
    """`async with ProbeClient(app) as client:` an `httpx.AsyncClient` on the probed app, its
    lifespan started before and shut down after (each within `lifespan_timeout` seconds).

    `httpx_kwargs` go to the client (`base_url` defaults to `http://testserver`).
    """
    probed = Probed(app, block_ms=block_ms)
    httpx_kwargs.setdefault("base_url", "http://testserver")
    try:
        async with Lifespan(probed.app, timeout=lifespan_timeout) as state:
            transport = httpx.ASGITransport(app=_with_state(probed.app, state))
            async with ProbedClient(transport=transport, **httpx_kwargs) as client:
                client.probed = probed
                yield client
    finally:
        # Lifespan shutdown did this already, unless the app does not speak lifespan.
        await probed.probe.aclose()
