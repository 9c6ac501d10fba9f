"""Shared by the docs examples: print a request and its answer the way the chapters show them,
at most 100 columns wide: a long value wraps under itself."""

from __future__ import annotations

import json
from typing import Any

import httpx
from rich.padding import Padding

from asgi_lab.console import labelled, plain, width
from asgi_lab.records import HEADER, HeaderData, ServedBy


def say(label: str, text: str, *, indent: int = 2) -> None:
    """`label text`, indented; a text too long for the line wraps under itself."""
    print(plain(Padding(labelled(label, text), (0, 0, 0, indent)), columns=width()))


def show(response: httpx.Response, *, keys: tuple[str, ...] = ()) -> None:
    """`METHOD /path -> status`, the lab's headers, then chosen keys of the JSON body."""
    request = response.request
    target = request.url.raw_path.decode()
    print(f"{request.method} {target} -> {response.status_code}")
    say(f"{HEADER}:", response.headers[HEADER])
    if "allow" in response.headers:
        say("allow:", response.headers["allow"])
    body = response.json()
    if isinstance(body.get("detail"), list):
        for error in body["detail"]:
            say("detail:", json.dumps(error))
        return
    for key in keys or tuple(body):
        if key in body:
            say(f"{key}:", json.dumps(body[key]))


def loop_of(served_by: dict[str, Any]) -> str:
    """The worker and its loop: `pid 7, loop 7:1 (uvloop) on MainThread/7`."""
    seen = ServedBy.from_json(served_by)
    if seen.loop is None:
        return f"pid {seen.pid}, on no loop"
    thread = seen.loop.thread
    on = f"{thread.name}/{thread.native_id}"
    return f"pid {seen.pid}, loop {seen.loop.id} ({seen.loop.impl}) on {on}"


def handler_of(served_by: dict[str, Any]) -> str:
    """The handler's thread: `handler on AnyIO worker thread/9 (threadpool)`."""
    seen = ServedBy.from_json(served_by)
    place = "threadpool" if seen.in_threadpool else "loop"
    return f"handler on {seen.thread.name}/{seen.thread.native_id} ({place})"


def where(served_by: dict[str, Any]) -> str:
    """Two lines: the worker and its loop, then the handler's thread."""
    return f"{loop_of(served_by)}\n{handler_of(served_by)}"


def request_id(response: httpx.Response) -> str:
    """The id of the probe's record of this response, from its `x-asgi-lab` header."""
    return HeaderData.parse(response.headers[HEADER]).request
