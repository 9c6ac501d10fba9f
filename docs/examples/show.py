"""Shared by the docs examples: print a request and its answer the way the chapters show them."""

from __future__ import annotations

import json
from typing import Any

import httpx

from asgi_lab.probe import HEADER, HeaderData


def compact(value: Any, width: int = 96) -> str:
    text = json.dumps(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def show(response: httpx.Response, *, keys: tuple[str, ...] = ()) -> None:
    """`METHOD /path -> status`, the lab's headers, then chosen keys of the JSON body."""
    request = response.request
    target = request.url.raw_path.decode()
    print(f"{request.method} {target} -> {response.status_code}")
    print(f"  {HEADER}: {response.headers[HEADER]}")
    if "allow" in response.headers:
        print(f"  allow: {response.headers['allow']}")
    body = response.json()
    if isinstance(body.get("detail"), list):
        for error in body["detail"]:
            print(f"  detail: {json.dumps(error)}")
        return
    for key in keys or tuple(body):
        if key in body:
            print(f"  {key}: {compact(body[key])}")


def where(served_by: dict[str, Any]) -> str:
    """One line: pid, loop and handler thread."""
    handler = served_by["handler"]
    loop = served_by["loop"]
    place = "threadpool" if handler["in_threadpool"] else "loop"
    return (
        f"pid {served_by['pid']}, loop {loop['id']} ({loop['impl']}) on "
        f"{loop['thread']['name']}/{loop['thread']['native_id']}, handler on "
        f"{handler['thread']['name']}/{handler['thread']['native_id']} ({place})"
    )


def request_id(response: httpx.Response) -> str:
    """The id of the probe's record of this response, from its `x-asgi-lab` header."""
    return HeaderData.parse(response.headers[HEADER]).request
