"""Chapter 9: Layer 0 under a real uvicorn, called with a real client."""

from __future__ import annotations

import json

import httpx
from show import request_id, show, where

from asgi_lab.serving import ServerOptions, start

with (
    start(ServerOptions("asgi_lab.raw:app")) as server,
    httpx.Client(base_url=server.url) as client,
):
    print(f"uvicorn asgi_lab.raw:app -> worker pid {server.pid}\n")

    quick = client.get("/quick")
    show(quick, keys=("layer", "endpoint"))
    print(f"  served_by: {where(quick.json()['served_by'])}\n")

    sleep = client.get("/sync/sleep", params={"seconds": 0.1})
    show(sleep, keys=("seconds",))
    print(f"  served_by: {where(sleep.json()['served_by'])}\n")

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
        print(f"  {key}: {json.dumps(scope[key])}")
    print(f"  headers: {json.dumps(scope['headers'])}\n")

    records = client.get("/_lab/records", params={"limit": 20}).json()["records"]
    [record] = [r for r in records if r["id"] == request_id(sleep)]
    print(f"The probe's record of request {record['id']}, from GET /_lab/records:")
    print(json.dumps(record, indent=2))
