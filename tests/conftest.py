"""Shared fixtures: the layers under test, an in-process client, and real servers."""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from asgi_lab import settings
from asgi_lab.catalogue import app_path
from asgi_lab.probe import ProbeMiddleware, faults
from asgi_lab.records.schema import HEADER, HeaderData
from asgi_lab.serving import Server, ServerOptions, start
from asgi_lab.types import ASGIApp, Message

#: The pytest plugin every asgi-lab install registers (pyproject's `pytest11` entry point).
PLUGIN = "asgi_lab.testing.plugin"


def plugin_installed() -> bool:
    """Whether pytest loads our plugin by itself: not in an editable install made before the
    entry point existed (pip writes entry points at install time)."""
    return any(ep.value == PLUGIN for ep in importlib.metadata.entry_points(group="pytest11"))


#: `-p` arguments that load the plugin in a pytester run when the install does not.
PLUGIN_ARGS = () if plugin_installed() else ("-p", PLUGIN)

# pytester runs user test files as users do; the plugin by hand only where the install lacks it.
pytest_plugins = ["pytester", *(() if plugin_installed() else (PLUGIN,))]

#: The layers every shared identity test runs against; a layer joins when its module exists.
LAYERS = ["raw", "routes", "api", "fastapi"]
#: The layers every real-server test runs against. The fastapi layer is api.py's own source on
#: FastAPI: its servers are checked in test_fastapi_layer.py and by `tour --layer fastapi`,
#: which keeps the suite within its time.
SERVER_LAYERS = ["raw", "routes", "api"]


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """A test that loads settings (a lifespan, a monkeypatched variable) leaves none behind."""
    yield
    settings.forget()


@pytest.fixture(autouse=True)
def no_probe_faults() -> Iterator[None]:
    """The probe counts its own faults per process: each test starts from none, leaves none."""
    faults.counts.clear()
    yield
    faults.counts.clear()


@pytest.fixture(autouse=True)
def layers_written(request: pytest.FixtureRequest) -> None:
    """A `serial` test judges timings: the layers' apps (one probe each per process, logging
    every request on threads of their own) first write what earlier tests left them, so that
    a backlog of thousands of lines does not take the core while this test measures."""
    if request.node.get_closest_marker("serial") is None:
        return
    for layer in LAYERS:
        module, _, name = app_path(layer).partition(":")
        app = getattr(sys.modules.get(module), name, None)  # only the layers already in use
        if isinstance(app, ProbeMiddleware) and app.writer is not None:
            if not app.writer.flush(timeout=30):
                raise AssertionError(f"the {layer} layer's probe still writing after 30 s")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=LAYERS)
def layer(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def layer_app(layer: str) -> Any:
    module, _, name = app_path(layer).partition(":")
    return getattr(importlib.import_module(module), name)


@pytest.fixture
async def client(layer_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=layer_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as c:
        yield c


def facts(response: Any) -> HeaderData:
    """The probe's `x-asgi-lab` header of an httpx or http.client response."""
    headers = getattr(response, "headers", None)
    value = headers.get(HEADER) if headers is not None else response.getheader(HEADER)
    if value is None:
        raise AssertionError(f"no {HEADER} header in the response")
    return HeaderData.parse(value)


def serve(app: str, **options: Any) -> Server:
    """A real uvicorn serving `app` (`module:attribute`) with `ServerOptions`."""
    return start(ServerOptions(app=app, **options))


async def run_lifespan(
    app: ASGIApp, between: Any = None, messages: list[Message] | None = None
) -> list[str]:
    """Run an app's lifespan through startup and shutdown, as a server would.

    `between`, if given, is awaited after startup; returns the message types the app sent, and
    appends the whole messages to `messages` if given (kept even when the app raises).
    """
    said: list[str] = []
    started = False

    async def receive() -> Message:
        nonlocal started
        if not started:
            started = True
            return {"type": "lifespan.startup"}
        if between is not None:
            await between()
        return {"type": "lifespan.shutdown"}

    async def send(message: Message) -> None:
        said.append(message["type"])
        if messages is not None:
            messages.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    return said
