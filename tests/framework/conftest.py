"""Shared fixtures: the anyio backend and a client for any ASGI app."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
