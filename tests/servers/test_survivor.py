"""hypercorn with two workers, one SIGKILLed: hypercorn stops the whole server, SIGTERMing the
other worker at once, and the survivor's answered requests still reach the trace (`exits.py`).
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from asgi_lab import procfs
from asgi_lab.lab.clients import Reply, pin_workers
from asgi_lab.records import read_records
from asgi_lab.serving import ServerOptions, start
from asgi_lab.settings import Settings

pytestmark = pytest.mark.server

#: Requests the survivor answers just before the kill: its writer's last batch, still buffered.
BURST = 30


async def answer_then_kill(url: str) -> tuple[list[Reply], int]:
    """Pin a connection to each worker, let the survivor answer, SIGKILL the other one."""
    survivor, victim = await pin_workers(url, 2)
    try:
        answered = [await survivor.get("/quick") for _ in range(BURST)]
        # One round trip more: every answer above is done with on the survivor's loop (its
        # record handed to the writer, most still buffered: 50 ms batches) before the kill.
        doomed = (await victim.get("/quick")).pid
        # The survivor took SIGTERM over from the default: hypercorn's workers leave it there.
        assert procfs.disposition(answered[0].pid, signal.SIGTERM) == "caught"
        os.kill(doomed, signal.SIGKILL)
    finally:
        await survivor.aclose()
        await victim.aclose()
    return answered, doomed


def test_the_survivors_records_reach_the_trace_when_hypercorn_stops(tmp_path: Path) -> None:
    settings = Settings(trace_dir=str(tmp_path))
    options = ServerOptions("asgi_lab.raw:app", server="hypercorn", workers=2, settings=settings)
    with start(options) as server:
        answered, killed = asyncio.run(answer_then_kill(server.url))
        # hypercorn's own choice: a worker that dies stops the server (its exit status 0 or
        # the killed worker's), with no SIGTERM or request of ours.
        assert server.wait(timeout=30) is not None, "hypercorn went on after a worker died"
    survivor = answered[0].pid
    assert survivor != killed and {r.pid for r in answered} == {survivor}
    assert not procfs.alive(survivor)
    written = {r.id for r in read_records(tmp_path) if r.pid == survivor}
    missing = [r.record_id for r in answered if r.record_id not in written]
    assert missing == [], f"{len(missing)} of the survivor's {BURST} answers have no record"
