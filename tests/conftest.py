"""Shared fixtures: the layers under test, an in-process client, and real servers."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from asgi_lab.lab.servers import Server, start

#: The layers every shared identity test runs against; a layer joins when its module exists.
LAYERS = ["raw", "api"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=LAYERS)
def layer(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def layer_app(layer: str) -> Any:
    return importlib.import_module(f"asgi_lab.{layer}").app


@pytest.fixture
async def client(layer_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=layer_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as c:
        yield c


@pytest.fixture
def server(layer: str) -> Iterator[Server]:
    """One real uvicorn worker serving the layer."""
    with start(f"asgi_lab.{layer}:app") as s:
        yield s
