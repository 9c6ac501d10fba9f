"""A real run for the timeline's tests: two uvicorn workers, concurrent requests, records."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from asgi_lab.lab.records import read_records
from asgi_lab.probe.schema import RecordData
from asgi_lab.serving import ServerOptions, start
from asgi_lab.settings import Settings

PATHS = ("/sync/sleep?seconds=0.05", "/quick", "/async/sleep?seconds=0.05")
#: Requests per path: enough for both workers, hops on several threads and overlaps.
EACH = 12


async def _drive(url: str) -> None:
    # Fresh connections (no keep-alive), so the kernel spreads them over both workers.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:
        replies = await asyncio.gather(*(client.get(p) for p in PATHS * EACH))
    assert all(r.status_code == 200 for r in replies)


@pytest.fixture(scope="package")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[RecordData]]]:
    """A trace directory written by a real two-worker server, and its records."""
    trace = tmp_path_factory.mktemp("trace")
    options = ServerOptions(
        app="asgi_lab.routes:app", workers=2, settings=Settings(trace_dir=str(trace))
    )
    with start(options) as server:
        asyncio.run(_drive(server.url))
    records = read_records(trace)
    assert len(records) >= len(PATHS) * EACH  # startup requests of the lab may add none
    yield trace, records
