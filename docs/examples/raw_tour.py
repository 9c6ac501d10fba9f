"""Chapter 9: Layer 0 under a real uvicorn, called with a real client."""

from __future__ import annotations

import json

import httpx
from show import request_id, say, show, where

from asgi_lab.records import RecordData
from asgi_lab.serving import ServerOptions, start

#: The record's fields the chapter explains, shown as the JSON they are.
EXCERPT = ("id", "start_ns", "end_ns", "duration_ns", "handler")

with (
    start(ServerOptions("asgi_lab.raw:app")) as server,
    httpx.Client(base_url=server.url) as client,
):
    print(f"uvicorn asgi_lab.raw:app -> worker pid {server.pid}\n")

    quick = client.get("/quick")
    show(quick, keys=("layer", "endpoint"))
    say("served_by:", where(quick.json()["served_by"]))
    print()

    sleep = client.get("/sync/sleep", params={"seconds": 0.1})
    show(sleep, keys=("seconds",))
    say("served_by:", where(sleep.json()["served_by"]))
    print()

    show(client.get("/async/sleep", params={"seconds": "soon"}))
    show(client.get("/sync/sleep", params={"seconds": 300}))
    show(client.delete("/quick"))
    show(client.get("/nowhere"))
    print()

    scope = client.get(
        "/scope", params={"page": 2, "token": "t0k3n"}, headers={"Authorization": "Bearer s3cret"}
    ).json()["scope"]
    print("GET /scope (Authorization: Bearer s3cret, ?token=t0k3n):")
    for key in ("type", "http_version", "method", "path", "query_string", "client", "server"):
        say(f"{key}:", json.dumps(scope[key]))
    say("headers:", "\n".join(json.dumps(pair) for pair in scope["headers"]))  # one a line
    print()

    records = client.get("/_lab/records", params={"limit": 20}).json()["records"]
    [raw] = [r for r in records if r["id"] == request_id(sleep)]
    record = RecordData.from_json(raw)
    [hop] = record.hops
    print(f"The probe's record of request {record.id}, from GET /_lab/records, in short:")
    took = f"{record.duration_ns / 1e6:.1f} ms"
    say("request:", f"{record.method} {record.path} -> {record.status} in {took}")
    say("ran:", where(raw))
    hop_ms = (hop.end_ns - hop.start_ns) / 1e6
    queued = f"{hop.queued_ns / 1e6:.1f} ms"
    say("hop:", f"{hop.call}: queued {queued} (token wait and hand-off), ran {hop_ms:.1f} ms")
    pool = record.threadpool
    say("tokens:", f"{pool.borrowed} of {pool.total:g} borrowed when it arrived")
    print(f"{len(EXCERPT)} of its {len(raw)} fields, as JSON:")
    print(json.dumps({key: raw[key] for key in EXCERPT}, indent=2))
