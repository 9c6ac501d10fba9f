"""The record as data: what `/_lab/records`, the JSON lines, the lab, the reports and the tests
exchange, defined once.

The probe fills a live `Record` on the loop (see `record.py`) and writes it with `as_dict()`;
everyone else reads that JSON back with `RecordData.from_json()` into the frozen classes below
and reads attributes, not string keys. The response header and the request id are defined here
too, so the server that writes them and the clients that read them cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "HEADER",
    "BlockData",
    "HandlerData",
    "HeaderData",
    "HopData",
    "LoopData",
    "RecordData",
    "ThreadData",
    "ThreadpoolData",
    "WaitData",
    "request_id",
]

#: The one response header the probe adds: `pid=4242; loop=4242:1; thread=4250; request=4242-1`.
HEADER = "x-asgi-lab"

JSON = Mapping[str, Any]


def request_id(pid: int, seq: int) -> str:
    """A request's id, unique across the workers of a machine: the pid, then the probe's count."""
    return f"{pid}-{seq}"


@dataclass(frozen=True, slots=True)
class ThreadData:
    """A thread, named by its `native_id` (the kernel's tid): anyio's workers share one name."""

    name: str
    native_id: int

    @classmethod
    def from_json(cls, data: JSON) -> ThreadData:
        return cls(str(data["name"]), int(data["native_id"]))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "native_id": self.native_id}


@dataclass(frozen=True, slots=True)
class LoopData:
    """An event loop: `pid:n` (the n-th loop that process met), its implementation, its thread."""

    id: str
    impl: str
    thread: ThreadData

    @classmethod
    def from_json(cls, data: JSON) -> LoopData:
        return cls(str(data["id"]), str(data["impl"]), ThreadData.from_json(data["thread"]))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "impl": self.impl, "thread": self.thread.to_json()}


@dataclass(frozen=True, slots=True)
class HandlerData:
    """The thread that ran the request's handler, and whether that was a threadpool thread."""

    thread: ThreadData
    in_threadpool: bool

    @classmethod
    def from_json(cls, data: JSON) -> HandlerData:
        return cls(ThreadData.from_json(data["thread"]), bool(data["in_threadpool"]))

    def to_json(self) -> dict[str, Any]:
        return {"thread": self.thread.to_json(), "in_threadpool": self.in_threadpool}


@dataclass(frozen=True, slots=True)
class ThreadpoolData:
    """The worker's default limiter when the request arrived, and the request's token wait."""

    total: float  # a whole number, or inf when the limiter is unbounded
    borrowed: int
    waiting: int
    wait_ns: int

    @classmethod
    def from_json(cls, data: JSON) -> ThreadpoolData:
        return cls(data["total"], int(data["borrowed"]), int(data["waiting"]), int(data["wait_ns"]))

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "borrowed": self.borrowed,
            "waiting": self.waiting,
            "wait_ns": self.wait_ns,
        }


@dataclass(frozen=True, slots=True)
class HopData:
    """One call into a worker thread: what ran, where, and when it was asked for, began, ended."""

    call: str
    endpoint: bool
    thread: ThreadData | None  # None when the call never started (cancelled while queued)
    called_ns: int
    start_ns: int
    end_ns: int
    queued_ns: int
    borrowed: int
    waiting: int

    @classmethod
    def from_json(cls, data: JSON) -> HopData:
        thread = data["thread"]
        return cls(
            str(data["call"]),
            bool(data["endpoint"]),
            None if thread is None else ThreadData.from_json(thread),
            int(data["called_ns"]),
            int(data["start_ns"]),
            int(data["end_ns"]),
            int(data["queued_ns"]),
            int(data["borrowed"]),
            int(data["waiting"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "call": self.call,
            "endpoint": self.endpoint,
            "thread": None if self.thread is None else self.thread.to_json(),
            "called_ns": self.called_ns,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "queued_ns": self.queued_ns,
            "borrowed": self.borrowed,
            "waiting": self.waiting,
        }


@dataclass(frozen=True, slots=True)
class BlockData:
    """A stall of the loop this request caused: how long, and the line it was stuck on (the
    deepest frame of user code, see `probe/watchdog.py`), with the stack leading there."""

    ms: float
    file: str
    line: int
    function: str
    stack: tuple[str, ...]
    kind: str  # "blocked"
    #: Wall clock of the last heartbeat before the stall (0 in records older than the field).
    start_ns: int = 0

    @classmethod
    def from_json(cls, data: JSON) -> BlockData:
        return cls(
            float(data["ms"]),
            str(data["file"]),
            int(data["line"]),
            str(data["function"]),
            tuple(str(s) for s in data["stack"]),
            str(data["kind"]),
            int(data.get("start_ns", 0)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ms": self.ms,
            "file": self.file,
            "line": self.line,
            "function": self.function,
            "stack": list(self.stack),
            "kind": self.kind,
            "start_ns": self.start_ns,
        }

    @property
    def end_ns(self) -> int:
        return self.start_ns + int(self.ms * 1e6)


@dataclass(frozen=True, slots=True)
class WaitData:
    """Time this request spent waiting on a loop that could not run it: `blocked` by another
    request (`request` names it), or `starved` (no request to blame: the loop thread could not
    get the GIL or a core; `hops` names the threadpool calls running meanwhile)."""

    request: str | None
    ms: float
    kind: str  # "blocked" or "starved"
    hops: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: JSON) -> WaitData:
        request = data["request"]
        return cls(
            None if request is None else str(request),
            float(data["ms"]),
            str(data["kind"]),
            tuple(str(h) for h in data.get("hops", ())),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"request": self.request, "ms": self.ms, "kind": self.kind}
        if self.hops:
            out["hops"] = list(self.hops)
        return out


@dataclass(frozen=True, slots=True)
class RecordData:
    """One request as the probe saw it. Times are wall-clock ns, so workers share one timeline;
    `duration_ns` is from the monotonic clock."""

    id: str
    method: str
    path: str
    status: int
    client: str | None
    start_ns: int
    response_ns: int
    end_ns: int
    duration_ns: int
    ppid: int
    pid: int
    loop: LoopData
    handler: HandlerData
    in_flight: int
    threadpool: ThreadpoolData
    hops: tuple[HopData, ...]
    error: str | None
    #: Stalls of the loop this request caused (the watchdog's, when it is on).
    blocks: tuple[BlockData, ...] = ()
    #: Stalls this request sat through, caused by another request or by starvation.
    waited_on: tuple[WaitData, ...] = ()
    #: Records the worker's writer lost, for want of room, just before this one (JSON lines
    #: only; the key is present only when non-zero).
    dropped: int = 0
    #: The ASGI scope type: "http", or "websocket" for an upgrade (whose status is 101 when
    #: accepted, 403 when closed before accepting).
    type: str = "http"
    #: When the probe saw the client gone before the response completed (wall-clock ns), else
    #: 0. A client gone before the response started has status 499: nothing was sent.
    disconnected_ns: int = 0
    #: Whether the probe could ask the server if the client had left: "" (answered within 1 ms,
    #: not asked), "polled", or "unavailable" (a server whose `receive` cannot be polled, such
    #: as granian's: then only the app's own `receive` calls can see a departure).
    departure_check: str = ""

    @classmethod
    def from_json(cls, data: JSON) -> RecordData:
        """Read one record; a missing key or a value of the wrong shape raises `ValueError`."""
        try:
            return cls(
                str(data["id"]),
                str(data["method"]),
                str(data["path"]),
                int(data["status"]),
                None if data["client"] is None else str(data["client"]),
                int(data["start_ns"]),
                int(data["response_ns"]),
                int(data["end_ns"]),
                int(data["duration_ns"]),
                int(data["ppid"]),
                int(data["pid"]),
                LoopData.from_json(data["loop"]),
                HandlerData.from_json(data["handler"]),
                int(data["in_flight"]),
                ThreadpoolData.from_json(data["threadpool"]),
                tuple(HopData.from_json(h) for h in data["hops"]),
                None if data["error"] is None else str(data["error"]),
                tuple(BlockData.from_json(b) for b in data.get("blocks", ())),
                tuple(WaitData.from_json(w) for w in data.get("waited_on", ())),
                int(data.get("dropped", 0)),
                str(data.get("type", "http")),
                int(data.get("disconnected_ns", 0)),
                str(data.get("departure_check", "")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            shown = str(data.get("id")) if isinstance(data, Mapping) else type(data).__name__
            raise ValueError(f"not a probe record ({shown}): {exc!r}") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "client": self.client,
            "start_ns": self.start_ns,
            "response_ns": self.response_ns,
            "end_ns": self.end_ns,
            "duration_ns": self.duration_ns,
            "ppid": self.ppid,
            "pid": self.pid,
            "loop": self.loop.to_json(),
            "handler": self.handler.to_json(),
            "in_flight": self.in_flight,
            "threadpool": self.threadpool.to_json(),
            "hops": [h.to_json() for h in self.hops],
            "error": self.error,
            "blocks": [b.to_json() for b in self.blocks],
            "waited_on": [w.to_json() for w in self.waited_on],
            **({"dropped": self.dropped} if self.dropped else {}),
            "type": self.type,
            "disconnected_ns": self.disconnected_ns,
            "departure_check": self.departure_check,
        }

    @property
    def seq(self) -> int:
        """This request's number in its worker (the part of the id after the pid)."""
        return int(self.id.rsplit("-", 1)[1])

    @property
    def seconds(self) -> float:
        return self.duration_ns / 1e9

    @property
    def disconnected(self) -> bool:
        """Whether the client left before the response completed."""
        return self.disconnected_ns != 0

    @property
    def wait_s(self) -> float:
        """Seconds this request's threadpool calls waited for a token and a thread."""
        return self.threadpool.wait_ns / 1e9


@dataclass(frozen=True, slots=True)
class HeaderData:
    """The facts of the `x-asgi-lab` header: enough for a client to find its record."""

    pid: int
    loop: str
    thread: int
    request: str

    @classmethod
    def parse(cls, value: str) -> HeaderData:
        """Read `pid=4242; loop=4242:1; thread=4250; request=4242-1`; `ValueError` otherwise."""
        fields: dict[str, str] = {}
        for part in value.split(";"):
            key, sep, item = part.strip().partition("=")
            if sep:
                fields[key] = item
        try:
            return cls(int(fields["pid"]), fields["loop"], int(fields["thread"]), fields["request"])
        except (KeyError, ValueError):
            raise ValueError(
                f"{HEADER} must look like 'pid=N; loop=N:N; thread=N; request=N-N', got {value!r}"
            ) from None

    def render(self) -> str:
        return f"pid={self.pid}; loop={self.loop}; thread={self.thread}; request={self.request}"
