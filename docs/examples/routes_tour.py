"""Chapter 10: what Layer 1 (Starlette) runs on the loop and what it sends to threads."""

from __future__ import annotations

import json
import time

import httpx
from show import handler_of, loop_of, request_id

from asgi_lab.serving import ServerOptions, start
from asgi_lab.settings import Settings


def record(client: httpx.Client, response: httpx.Response) -> dict[str, object]:
    """The probe's record of a response; waits (bounded) for requests still running."""
    wanted = request_id(response)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        records = client.get("/_lab/records", params={"limit": 50}).json()["records"]
        found = [r for r in records if r["id"] == wanted]
        if found:
            return found[0]
    raise TimeoutError(f"no record {wanted}")


def ms(ns: object) -> str:
    assert isinstance(ns, int)
    return f"{ns / 1e6:+.1f} ms"


with (
    start(ServerOptions("asgi_lab.routes:app")) as server,
    httpx.Client(base_url=server.url) as client,
):
    print(f"uvicorn asgi_lab.routes:app -> worker pid {server.pid}\n")
    loops = set()
    for method, path in [
        ("GET", "/quick"),
        ("GET", "/sync/sleep?seconds=0.05"),
        ("GET", "/endpoint"),
        ("POST", "/endpoint"),
        ("GET", "/wsgi/hello"),
    ]:
        served_by = client.request(method, path).json()["served_by"]
        loops.add(loop_of(served_by))
        print(f"{method:4} {path:24} {handler_of(served_by)}")
    [loop] = loops  # one worker, one loop: every request arrived on it
    print(f"each arrived on {loop}")

    print("\nA sync background task, after the response (times from the response start):")
    response = client.get("/background", params={"seconds": 0.2})
    rec = record(client, response)
    [hop] = rec["hops"]  # type: ignore[misc]
    start_ns = rec["response_ns"]
    assert isinstance(start_ns, int)
    print(f"  client had its answer after {response.elapsed.total_seconds() * 1000:.1f} ms")
    print(
        f"  hop {hop['call']!r} on {hop['thread']['name']}/{hop['thread']['native_id']}: "
        f"called {ms(hop['called_ns'] - start_ns)}, ran {ms(hop['start_ns'] - start_ns)} "
        f"to {ms(hop['end_ns'] - start_ns)}"
    )
    print(f"  the request's record closed at {ms(rec['end_ns'] - start_ns)}")

    print("\nA StreamingResponse over a sync generator: one threadpool trip per chunk:")
    response = client.get("/stream", params={"chunks": 4})
    for line in response.text.splitlines():
        print(f"  {line}")
    rec = record(client, response)
    hops = rec["hops"]
    assert isinstance(hops, list)
    print(f"  hops: {[h['call'] for h in hops]}")
    print(f"  threads: {[h['thread']['native_id'] for h in hops]}")

print("\nThe threadpool size, per worker, from ASGI_LAB_THREADS:")
with start(ServerOptions("asgi_lab.routes:app", settings=Settings(threads=4))) as server:
    served_by = httpx.get(server.url + "/quick").json()["served_by"]
    print(f"  ASGI_LAB_THREADS=4 -> threadpool {json.dumps(served_by['threadpool'])}")
