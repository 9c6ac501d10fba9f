"""A stall made of several calls of known lengths: the watchdog names the longest first, with a
share of the stall within 10 points of the truth, on asyncio and on uvloop (a real loop, a
probed app, real `time.sleep` calls)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest
import uvloop

from asgi_lab.probe import ProbeMiddleware
from asgi_lab.types import Receive, Scope, Send

#: The calls the handler makes one after another, in seconds: 0.30 is 71 % of the stall.
CALLS = (0.02, 0.30, 0.10)


def short_call() -> None:
    time.sleep(CALLS[0])


def long_call() -> None:
    time.sleep(CALLS[1])


def middle_call() -> None:
    time.sleep(CALLS[2])


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    short_call()  # blocks the loop: the three calls are one stall
    long_call()
    middle_call()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"done"})


async def one_request() -> ProbeMiddleware:
    probe = ProbeMiddleware(app, trace=None, watchdog=20)
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        # The watchdog starts with the first request on its loop; the second is the one measured.
        await client.get("/warm-up", timeout=10)
        assert (await client.get("/stall", timeout=10)).status_code == 200
    await probe.aclose()
    return probe


RUNNERS: dict[str, Callable[[Coroutine[Any, Any, ProbeMiddleware]], ProbeMiddleware]] = {
    "asyncio": asyncio.run,
    "uvloop": uvloop.run,
}


@pytest.mark.serial
@pytest.mark.parametrize("loop", sorted(RUNNERS))
def test_the_longest_call_of_a_stall_is_named_first_with_its_share(loop: str) -> None:
    probe = RUNNERS[loop](one_request())
    [record] = [r for r in probe.ring.recent() if r.path == "/stall"]
    [block] = record.data().blocks
    truth = {
        f.__name__: s / sum(CALLS)
        for f, s in zip((short_call, long_call, middle_call), CALLS, strict=True)
    }
    named = [line.frame.function for line in block.lines]
    assert named[:2] == ["long_call", "middle_call"], block.lines
    assert (block.function, block.lines[0].frame.function) == ("long_call", "long_call")
    for line in block.lines:
        assert abs(line.share - truth[line.frame.function]) <= 0.10, (line, truth)
    assert block.samples >= 50  # dense enough: every 2 ms across a 420 ms stall
