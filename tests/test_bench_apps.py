"""The benchmark's floor variants do what their names say, so the figures compare like with like."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from asgi_lab.records import HEADER
from asgi_lab.types import Message, Receive, Scope, Send
from bench.apps.probe_variants import _current, least_probe_of, pass_through_of

pytestmark = pytest.mark.anyio

SCOPE: Scope = {"type": "http", "method": "GET", "path": "/quick", "headers": []}


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    seen.append(_current.get())
    await send({"type": "http.response.start", "status": 201, "headers": [(b"a", b"b")]})
    await send({"type": "http.response.body", "body": b"hi"})


seen: list[object] = []


async def call(app: object) -> tuple[list[Message], Send]:
    """What the app sent, and the `send` the server gave it."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(dict(SCOPE), receive, send)  # type: ignore[operator]
    return sent, send


async def test_the_least_probe_records_and_adds_the_one_header() -> None:
    app = least_probe_of(hello)
    (first, _), (second, _) = await call(app), await call(app)
    values = [dict(m[0]["headers"])[HEADER.encode()] for m in (first, second)]
    assert [v.rsplit(b"-", 1)[1] for v in values] == [b"1", b"2"], "one number per request"
    record = seen[-1]
    assert record is not None and record.status == 201 and record.end_ns >= record.start_ns  # type: ignore[attr-defined]
    assert _current.get() is None, "the context variable is reset after the request"


async def test_pass_through_wraps_send_and_changes_nothing() -> None:
    given: list[object] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        given.append(send)
        await hello(scope, receive, send)

    sent, server_send = await call(pass_through_of(inner))
    assert given and given[0] is not server_send, "the app got a wrapper, not the server's send"
    assert sent[0]["headers"] == [(b"a", b"b")] and sent[1]["body"] == b"hi"


def in_a_process(script: str, variant: str) -> dict[str, Any]:
    """What `script` prints last (JSON) about `variant`, run in a Python process of its own
    from the repository, as the benchmark's server would import it."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", script, variant],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=60,
        check=True,
    )
    seen: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return seen


#: Each peer variant in a process of its own, as the benchmark serves it: FastAPI's telemetry
#: follows a global tracer provider, which would reach every app of this test process, and the
#: peers module builds all of its variants at import.
PEER_CHECK = """
import asyncio, importlib, json, sys
import httpx
from opentelemetry import trace

async def main():
    module, _, name = sys.argv[1].partition(":")
    app = getattr(importlib.import_module(module), name)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        answers = [(await c.get(path)) for path in ("/", "/sync-dep")]
    provider = type(trace.get_tracer_provider()).__module__
    print(json.dumps({
        "answers": [[r.status_code, r.text] for r in answers],
        "probed": [("x-asgi-lab" in r.headers) for r in answers],
        "provider": provider,
    }))

asyncio.run(main())
"""


@pytest.mark.parametrize(
    "variant",
    [
        *(f"bench.apps.peers:{name}" for name in ("bare", "pass_through", "least_probe")),
        *(f"bench.apps.peers:{name}" for name in ("probe", "otel")),
        "bench.apps.fastapi_telemetry:app",
    ],
)
def test_each_peer_answers_as_the_bare_app_and_only_the_telemetry_one_sets_a_provider(
    variant: str,
) -> None:
    seen = in_a_process(PEER_CHECK, variant)
    assert seen["answers"] == [[200, '{"hello":"world"}'], [200, '{"scale":2}']]
    assert seen["probed"] == [variant.endswith(("probe", "least_probe"))] * 2
    # Only FastAPI's telemetry variant sets the global provider (the SDK's); the others leave
    # OpenTelemetry's default proxy, so FastAPI's own telemetry stays off for them.
    sdk = seen["provider"].startswith("opentelemetry.sdk")
    assert sdk == variant.startswith("bench.apps.fastapi_telemetry"), seen["provider"]


GC_CHECK = """
import asyncio, gc, importlib, json, sys
import httpx

async def main():
    module, _, name = sys.argv[1].partition(":")
    app = getattr(importlib.import_module(module), name)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        answer = await c.get("/")
        before = (await c.get("/_gc")).json()
        gc.collect()
        after = (await c.get("/_gc")).json()
    print(json.dumps({"answer": [answer.status_code, answer.text], "before": before,
                      "after": after, "probed": "x-asgi-lab" in answer.headers,
                      "frozen": gc.get_freeze_count()}))

asyncio.run(main())
"""


@pytest.mark.parametrize(
    "variant",
    [
        *(f"bench.apps.gc_counted:{n}" for n in ("bare", "pass_through", "context_variable")),
        "bench.apps.gc_counted:probe",
        "bench.apps.gc_frozen:bare",
        "bench.apps.gc_frozen:probe",
    ],
)
def test_each_gc_counted_variant_answers_as_bare_and_counts_a_full_collection(
    variant: str,
) -> None:
    seen = in_a_process(GC_CHECK, variant)
    assert seen["answer"] == [200, '{"hello":"world"}']
    assert seen["probed"] == variant.endswith(":probe")
    before, after = seen["before"], seen["after"]
    # gc.collect() is a full collection: generation 2 counted once more, and its time.
    assert after["collections"][2] == before["collections"][2] + 1
    # The frozen variants froze the app's whole heap, tens of thousands of objects; the others
    # nothing of theirs (3.12 starts with a few hundred frozen already).
    frozen = variant.startswith("bench.apps.gc_frozen")
    assert (seen["frozen"] > 10_000) == frozen, seen["frozen"]
    assert sum(after["seconds"]) > sum(before["seconds"])
