"""A live snapshot: one worker, now, as it sends itself to the live page in one datagram.

The probe of each worker builds one every `INTERVAL` seconds (`asgi_lab.probe.live`); the parent
(`asgi_lab.live`) keeps the latest per pid and hands them, as they are, to the page's script. One
shape for the three of them: these `TypedDict`s are plain JSON, so nothing translates them.

What a snapshot may hold is bounded so that it always fits one datagram: at most `MAX_REQUESTS`
requests in flight (the oldest; `in_flight` still counts them all), `MAX_STALLS` stalls, paths cut
at `MAX_TEXT` characters. Paths are the probe's (credentials in an absolute URL redacted, no query
string) with control characters escaped; no header, body or query is ever in a snapshot.
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

__all__ = [
    "INTERVAL",
    "MAX_BYTES",
    "MAX_REQUESTS",
    "MAX_STALLS",
    "MAX_TEXT",
    "VERSION",
    "LoopNow",
    "PoolNow",
    "RequestNow",
    "Snapshot",
    "StallNow",
    "ThreadNow",
    "encode",
    "parse",
]

#: Bumped when a field changes meaning; the parent ignores snapshots of another version.
VERSION = 1
#: Seconds between two snapshots of a worker: five a second, above the page's four.
INTERVAL = 0.2
#: The largest datagram a worker sends (well below Linux's limit for a Unix datagram).
MAX_BYTES = 60_000
MAX_REQUESTS = 40
MAX_STALLS = 8
MAX_TEXT = 160


class ThreadNow(TypedDict):
    name: str
    id: int  # the kernel's tid (`native_id`)


class RequestNow(TypedDict):
    """A request in flight, and where it is right now."""

    id: str
    method: str
    path: str
    age_ms: float
    loop: str
    #: "loop" (awaiting, or running on the loop), "thread" (a call of it runs on `thread`), or
    #: "queued" (a call of it waits for a token or a thread of `pool`).
    state: str
    thread: ThreadNow | None
    pool: str | None


class PoolNow(TypedDict):
    """A pool's calls running (busy) and waiting (queued) now, and its size (None: unknown or
    unbounded)."""

    name: str
    loop: str | None  # anyio's limiter is per loop; an executor serves any loop
    size: float | None
    busy: int
    queued: int


class StallNow(TypedDict):
    """A stall of a loop: the request seen running and the line it was on."""

    loop: str
    at_ns: int  # wall clock when the loop stopped
    ms: float  # so far, for a stall still going on
    kind: str  # "blocked", or "stalling" while it lasts
    request: str | None
    method: str | None
    path: str | None
    line: str | None  # `path:line in function`, as every report names a line


class LoopNow(TypedDict):
    id: str
    impl: str
    #: How late the watchdog's heartbeat is: time since the last beat past its period.
    lag_ms: float | None
    stall: StallNow | None  # a stall going on now


class Snapshot(TypedDict):
    v: int
    pid: int
    ppid: int
    at_ns: int
    loops: list[LoopNow]
    pools: list[PoolNow]
    in_flight: int
    requests: list[RequestNow]
    requests_total: int  # requests begun since the worker started
    rps: float  # requests begun per second, over the last second
    stalls: list[StallNow]  # the last stalls that ended, newest last
    dropped: int  # snapshots this worker could not send (the parent was slow or gone)


def encode(snapshot: Snapshot) -> bytes:
    """The snapshot as one datagram; requests left out, oldest kept, until it fits."""
    data = _dumps(snapshot)
    while len(data) > MAX_BYTES and snapshot["requests"]:
        snapshot = {**snapshot, "requests": snapshot["requests"][: len(snapshot["requests"]) // 2]}
        data = _dumps(snapshot)
    return data


def _dumps(value: Any) -> bytes:
    # No NaN or Infinity: the page's JSON.parse refuses them.
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def parse(data: bytes) -> Snapshot | None:
    """A datagram as a snapshot, or None when it is not one of this version."""
    try:
        value = json.loads(data)
    except ValueError:
        return None
    if not isinstance(value, dict) or value.get("v") != VERSION:
        return None
    pid = value.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    snapshot: Snapshot = value  # type: ignore[assignment]
    return snapshot
