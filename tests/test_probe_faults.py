"""An observer never changes what it observes: a fault in any step of the probe's own machinery is
counted and logged once, and the app's status, headers (ours aside) and body go through as the app
sent them. Each step is made to fail in turn (in-process: a fault cannot be asked of a server)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

from asgi_lab.probe import ProbeMiddleware, hook, middleware, record
from asgi_lab.probe.identity import LoopInfo
from asgi_lab.probe.sinks import RecordRing
from asgi_lab.records.schema import HEADER
from asgi_lab.types import Message, Receive, Scope, Send

pytestmark = pytest.mark.anyio


def app() -> Starlette:
    async def quick(request: Request) -> PlainTextResponse:
        return PlainTextResponse("quick", headers={"x-app": "1"})

    async def slow(request: Request) -> JSONResponse:
        await asyncio.sleep(0.005)  # past the probe's quick path: the departure check runs
        return JSONResponse({"slow": True}, status_code=201)

    def sync(request: Request) -> PlainTextResponse:
        return PlainTextResponse("sync", status_code=202)

    async def echo(request: Request) -> PlainTextResponse:
        body = await request.body()
        await asyncio.sleep(0.005)
        return PlainTextResponse(body[::-1])

    async def stream(request: Request) -> StreamingResponse:
        async def chunks() -> Any:
            for i in range(3):
                yield f"chunk {i};"

        return StreamingResponse(chunks(), headers={"x-stream": "yes"})

    return Starlette(
        routes=[
            Route("/quick", quick),
            Route("/slow", slow),
            Route("/sync", sync),
            Route("/echo", echo, methods=["POST"]),
            Route("/stream", stream),
        ]
    )


REQUESTS = [("GET", "/quick"), ("GET", "/slow"), ("GET", "/sync"), ("POST", "/echo")]
REQUESTS += [("GET", "/stream")]


async def answers(target: Any) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    """Status, headers (ours aside, in order) and body of every request, through `target`."""
    out = []
    transport = httpx.ASGITransport(app=target)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
        for method, path in REQUESTS:
            response = await client.request(method, path, content=b"abc" * 1000)
            headers = [(k, v) for k, v in response.headers.items() if k != HEADER]
            out.append((response.status_code, headers, response.content))
    return out


def failing(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("injected fault")


# Each step of the probe, and how to make it fail.
STEPS: dict[str, Callable[[pytest.MonkeyPatch, ProbeMiddleware], None]] = {
    "begin": lambda mp, probe: mp.setattr(middleware, "Record", failing),
    "send": lambda mp, probe: mp.setattr(middleware, "resolve_handler", failing),
    "header": lambda mp, probe: mp.setattr(LoopInfo, "header_prefix", failing),
    "departure": lambda mp, probe: mp.setattr(middleware, "poll", failing),
    "hop": lambda mp, probe: mp.setattr(hook, "Hop", failing),
    "hop thread": lambda mp, probe: mp.setattr(hook, "current_thread", failing),
    "finish": lambda mp, probe: mp.setattr(record.Record, "finish", failing),
    "ring": lambda mp, probe: mp.setattr(probe, "ring", _FailingRing()),
}


class _FailingRing(RecordRing):
    def __init__(self) -> None:
        super().__init__(10)
        self.append = failing


@pytest.fixture
def caplog_probe(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.WARNING, logger="asgi_lab.probe"):
        yield caplog


@pytest.mark.parametrize("step", STEPS)
async def test_a_fault_in_any_step_leaves_the_answer_as_the_app_gave_it(
    step: str, monkeypatch: pytest.MonkeyPatch, caplog_probe: pytest.LogCaptureFixture
) -> None:
    expected = await answers(app())
    probe = ProbeMiddleware(app(), trace=None)
    with monkeypatch.context() as mp:
        STEPS[step](mp, probe)
        got = await answers(probe)
    assert got == expected
    assert probe.probe_errors >= 1
    warnings = [r for r in caplog_probe.records if "probe step" in r.getMessage()]
    # Once per step, however many requests met the fault.
    assert len(warnings) == len(probe.probe_faults) >= 1
    assert sum(probe.probe_faults.values()) == probe.probe_errors


async def test_without_faults_the_answer_is_the_same_and_nothing_is_counted() -> None:
    probe = ProbeMiddleware(app(), trace=None)
    assert await answers(probe) == await answers(app())
    assert probe.probe_errors == 0 and not probe.probe_faults
    assert len(probe.ring) == len(REQUESTS)


async def test_an_app_failure_is_the_apps_own_not_a_probe_fault() -> None:
    async def boom(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("the app's own")

    probe = ProbeMiddleware(boom, trace=None)
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
        with pytest.raises(ValueError, match="the app's own"):
            await client.get("/")
    assert probe.probe_errors == 0
    [seen] = probe.ring
    assert seen.status == 500 and "the app's own" in (seen.error or "")


class RustLikeAwaitable:
    """An awaitable like granian's: its iterator is neither a generator nor closable."""

    def __init__(self, message: Message) -> None:
        self.message = message

    def __await__(self) -> Iterator[Any]:
        return iter(())  # finishes at once, with None as its value: a Rust future it is not


class BuiltinLikeReceive:
    """A `receive` not written as a Python function (granian's is a method of a Rust class)."""

    def __init__(self) -> None:
        self.calls = 0
        self.queue: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}]

    def __call__(self) -> Any:
        self.calls += 1
        return _answer(self.queue.pop(0) if self.queue else {"type": "http.disconnect"})


async def _answer(message: Message) -> Message:
    return message


async def test_a_receive_that_cannot_be_polled_is_left_alone_and_the_record_says_so() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(0.005)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    receive = BuiltinLikeReceive()
    probe = ProbeMiddleware(slow_app, trace=None)
    scope: Scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"",
                    "headers": [], "client": ("127.0.0.1", 1)}  # fmt: skip
    await probe(scope, receive, send)
    assert receive.calls == 0  # never called: nothing taken from a server that cannot give back
    [seen] = probe.ring
    assert (seen.status, seen.departure_check) == (200, "unavailable")
    assert seen.data().departure_check == "unavailable"
    assert probe.probe_errors == 0
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


async def test_a_python_receive_is_polled_and_the_record_says_so() -> None:
    queue: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        await asyncio.Event().wait()  # a client still there: the wait is withdrawn
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        pass

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(0.005)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    probe = ProbeMiddleware(slow_app, trace=None)
    scope: Scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"",
                    "headers": [], "client": ("127.0.0.1", 1)}  # fmt: skip
    await probe(scope, receive, send)
    [seen] = probe.ring
    assert (seen.status, seen.departure_check) == (200, "polled")


def test_an_awaitable_without_a_generator_is_never_stepped() -> None:
    def receive() -> Any:
        return RustLikeAwaitable({"type": "http.disconnect"})

    with pytest.raises(middleware.Unpollable):
        middleware.poll(receive)
