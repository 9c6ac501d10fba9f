"""Chapter 11: where Layer 2 runs each dependency, read from the answers and the probe."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from show import request_id, say, show, where

from asgi_lab.serving import ServerOptions, start


def records(client: httpx.Client, *ids: str) -> dict[str, dict[str, object]]:
    """The probe's records of these request ids; waits (bounded) for requests still closing."""
    deadline = time.monotonic() + 10
    while True:
        found = {
            r["id"]: r
            for r in client.get("/_lab/records", params={"limit": 200}).json()["records"]
            if r["id"] in ids
        }
        if len(found) == len(ids) or time.monotonic() > deadline:
            return found


with (
    start(ServerOptions("asgi_lab.api:app")) as server,
    httpx.Client(base_url=server.url) as client,
):
    print(f"uvicorn asgi_lab.api:app -> worker pid {server.pid}\n")
    show(client.get("/sync/sleep", params={"seconds": "-1"}))
    show(client.get("/async/cpu"))
    print()

    response = client.get("/deps/hops")
    body = response.json()
    print("GET /deps/hops: a def endpoint with four dependencies, one of each kind")
    for kind, ran in body["dependencies"].items():
        print(f"  {kind + ' dependency':<24} ran on {ran['name']}/{ran['native_id']}")
    ran = body["endpoint_thread"]
    print(f"  {'the endpoint':<24} ran on {ran['name']}/{ran['native_id']}")
    say("served_by:", where(body["served_by"]))

    rid = request_id(response)
    record = records(client, rid)[rid]
    start_ns = record["response_ns"]
    assert isinstance(start_ns, int)
    print("\nThe probe's hops for it (times from the response start):")
    for hop in record["hops"]:  # type: ignore[attr-defined]
        mark = "  <- the endpoint" if hop["endpoint"] else ""
        print(
            f"  {hop['call']:<36} {hop['thread']['native_id']:>7}  "
            f"queued {hop['queued_ns'] / 1000:6.0f} µs  "
            f"at {(hop['start_ns'] - start_ns) / 1e6:+7.2f} ms{mark}"
        )

    print("\nGET /deps/thread-local?hold=0.05, twenty at once:")
    start_line = threading.Barrier(20, timeout=10)

    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=server.url, timeout=15) as own:
            start_line.wait()
            return own.get("/deps/thread-local", params={"hold": "0.05"})

    with ThreadPoolExecutor(20) as pool:
        answers = [r.json() for r in pool.map(one, range(20))]
    crossed = [a for a in answers if a["dependency_thread"] != a["endpoint_thread"]]
    lost = [a for a in answers if not a["same_session"]]
    print(f"  endpoint on another thread than its dependency: {len(crossed)} of 20")
    print(f"  endpoint did not find the session its dependency opened: {len(lost)} of 20")
    if lost:
        example = {k: lost[0][k] for k in ("opened", "found", "same_session")}
        print(f"  for example: {json.dumps(example)}")
