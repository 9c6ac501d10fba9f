"""A real run for the timeline's tests: two uvicorn workers, concurrent requests, records."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from asgi_lab.lab.clients import AsyncClient, pin_workers
from asgi_lab.records import read_records
from asgi_lab.records.schema import RecordData
from asgi_lab.serving import ServerOptions, start
from asgi_lab.settings import Settings

PATHS = ("/sync/sleep?seconds=0.05", "/quick", "/async/sleep?seconds=0.05")
#: Requests per path: enough for both workers, hops on several threads and overlaps.
EACH = 12


async def _drive(url: str) -> None:
    # Many requests at once on fresh connections, for overlaps and hops on several threads;
    # and a few on a connection pinned to each worker, because the kernel alone may hand
    # every connection to one of them on a busy machine.
    pinned = await pin_workers(url, 2)
    try:
        async with AsyncClient(url, fresh=True) as client:
            replies = await asyncio.gather(
                *(client.get(p) for p in PATHS * EACH),
                *(c.get(p) for c in pinned for p in PATHS),
            )
    finally:
        for c in pinned:
            await c.aclose()
    assert all(r.status == 200 for r in replies)


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
