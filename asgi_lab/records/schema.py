"""The record as data, defined once: what the probe hands its sinks, what the JSON lines, the
log, OpenTelemetry, `/_lab/records`, the lab, the reports, the timelines and the tests read.

The probe fills a live `Record` on the loop (`probe/record.py`) and turns it into the frozen
`RecordData` below off the loop; everyone downstream reads attributes of these classes, never
string keys. `to_json()` is the one JSON form (`encode.py` writes the same, faster), and
`from_json()` reads it back, naming the field that does not fit. The response header, the
request id and the way a code location is written are defined here too, so the writers and the
readers cannot drift apart.
"""

from __future__ import annotations

import functools
import os
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CANCELLED",
    "HEADER",
    "STILL_RUNNING",
    "BlockData",
    "FrameData",
    "HandlerData",
    "HeaderData",
    "HopData",
    "LineShareData",
    "LoopData",
    "PoolData",
    "RecordData",
    "ServedBy",
    "ThreadData",
    "ThreadpoolData",
    "WaitData",
    "WaitsData",
    "request_id",
    "short_path",
]

#: The one response header the probe adds: `pid=4242; loop=4242:1; thread=4250; request=4242-1`.
HEADER = "x-asgi-lab"

JSON = Mapping[str, Any]


def request_id(pid: int, seq: int) -> str:
    """A request's id, unique across the workers of a machine: the pid, then the probe's count."""
    return f"{pid}-{seq}"


#: A record's `error` when the server cancelled its request before it answered: a shutdown's
#: graceful timeout ran out (uvicorn, hypercorn), or a server that cancels on a client gone.
CANCELLED = "cancelled: the server cut the request off before it completed"
#: A record's `error` when its request was still running as its worker shut down (a sync call a
#: cancel cannot stop): the probe writes what it has rather than lose the record.
STILL_RUNNING = "cut off: still running when the worker shut down"


def short_path(path: str) -> str:
    """`path` as a reader finds it: an installed library's or the standard library's from its
    root (`httpx/_client.py`), anything else from the current directory when it lies below it
    (what an editor opens), else whole."""
    for root in _library_roots():
        if path.startswith(root):
            return path[len(root) :]
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive, on Windows
        return path
    return path if relative.startswith("..") else relative


@functools.cache
def _library_roots() -> tuple[str, ...]:
    names = ("purelib", "platlib", "stdlib", "platstdlib")
    roots = {os.path.abspath(p) + os.sep for p in map(sysconfig.get_path, names) if p}
    return tuple(sorted(roots, key=len, reverse=True))  # site-packages before the stdlib


@dataclass(frozen=True, slots=True)
class FrameData:
    """One frame of a stack: a line of code and the function it is in."""

    file: str
    line: int
    function: str

    @classmethod
    def from_json(cls, data: JSON) -> FrameData:
        return cls(str(data["file"]), int(data["line"]), str(data["function"]))

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "function": self.function}

    def where(self) -> str:
        """`path:line in function`, the path shortened by `short_path`: how every report,
        log line and assertion message names a line of code."""
        return f"{short_path(self.file)}:{self.line} in {self.function}"


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
    """The worker's default limiter when the request arrived, and its hops' queued time."""

    total: float  # a whole number, or inf when the limiter is unbounded
    borrowed: int
    waiting: int
    #: Every hop's `queued_ns`, summed: a token or a thread, and the loop's hand-off, together.
    #: `RecordData.waits` says which was which.
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
class PoolData:
    """The pool a hop went through, as it stood when the hop was submitted (see
    `probe/executors.py` for how each is named and counted).

    `name` is "anyio" (anyio's default limiter; "anyio-limiter" for another one),
    "default-executor" (the loop's), "asgiref" (one of asgiref's one-thread executors for
    thread-sensitive calls), "executor:<thread name prefix>" for any other thread pool, or
    "processes:<n>" for a process pool. `size` is the pool's threads or tokens (inf when
    unbounded), None when it cannot be read by public means (a `ThreadPoolExecutor` does not
    say its `max_workers`). `busy` and `queued` count the calls running and waiting then (for
    anyio its tokens borrowed and tasks waiting; for a process pool `busy` is every call in
    flight and `queued` 0: the parent cannot tell the two apart).
    """

    name: str
    size: float | None
    busy: int
    queued: int
    #: True when the pool's workers are other processes: the hop's thread is then None and
    #: its start (so `queued_ns`) unknown; its end is when the parent saw the answer.
    processes: bool = False

    @property
    def full(self) -> bool:
        """Whether the pool had no token or thread free for the hop: every one busy, or calls
        already queued (the only sign of a full pool whose size is unknown)."""
        size = self.size
        return self.queued > 0 or (size is not None and self.busy >= size)

    @classmethod
    def from_json(cls, data: JSON) -> PoolData:
        size = data["size"]
        return cls(
            _text(data["name"]),
            None if size is None else size if isinstance(size, int) else float(size),
            int(data["busy"]),
            int(data["queued"]),
            bool(data["processes"]),
        )

    def to_json(self) -> dict[str, Any]:
        size = self.size
        return {
            "name": self.name,
            # A whole number as one (anyio says 40, not 40.0); inf stays a float.
            "size": int(size) if size is not None and float(size).is_integer() else size,
            "busy": self.busy,
            "queued": self.queued,
            "processes": self.processes,
        }


@dataclass(frozen=True, slots=True)
class HopData:
    """One call into a worker thread (or process): what ran, where, through which pool, and when
    it was asked for, began, ended."""

    call: str
    endpoint: bool
    thread: ThreadData | None  # None when the call never started, or ran in another process
    called_ns: int
    start_ns: int
    end_ns: int
    queued_ns: int
    pool: PoolData
    #: When the task that awaited the call ran again on the loop (0 when not seen): from
    #: `end_ns` to here the answer waited for the loop.
    resumed_ns: int = 0

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
            PoolData.from_json(data["pool"]),
            int(data.get("resumed_ns", 0)),  # records written before it was
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
            "pool": self.pool.to_json(),
            "resumed_ns": self.resumed_ns,
        }


@dataclass(frozen=True, slots=True)
class LineShareData:
    """A line a stall was spent on: its share of the stall's time, and the samples that saw it."""

    frame: FrameData
    share: float  # 0..1 of the stall
    samples: int

    @classmethod
    def from_json(cls, data: JSON) -> LineShareData:
        return cls(FrameData.from_json(data), float(data["share"]), int(data["samples"]))

    def to_json(self) -> dict[str, Any]:
        return {**self.frame.to_json(), "share": self.share, "samples": self.samples}


@dataclass(frozen=True, slots=True)
class BlockData:
    """A stall of the loop this request caused: how long, and the line it was stuck on (the
    deepest frame of user code, see `probe/watchdog.py`), with the stack leading there,
    outermost first."""

    ms: float
    file: str
    line: int
    function: str
    stack: tuple[FrameData, ...]
    kind: str  # "blocked"
    #: Wall clock of the last heartbeat before the stall.
    start_ns: int = 0
    #: The lines of the culprit's code the stall was spent on, longest first, each with its
    #: share of the stall's time (every sample weighted by the time until the next).
    lines: tuple[LineShareData, ...] = ()
    #: Samples the watchdog took of the loop thread during the stall.
    samples: int = 0
    #: The tasks awaiting the culprit's task, nearest first, each `name (request) at line`
    #: (Python 3.14's `asyncio.capture_call_graph`; empty before 3.14 and for a task no other
    #: awaits).
    awaited_by: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: JSON) -> BlockData:
        return cls(
            float(data["ms"]),
            str(data["file"]),
            int(data["line"]),
            str(data["function"]),
            tuple(FrameData.from_json(s) for s in data["stack"]),
            str(data["kind"]),
            int(data["start_ns"]),
            tuple(LineShareData.from_json(x) for x in data["lines"]),
            int(data["samples"]),
            tuple(_text(a) for a in data.get("awaited_by", ())),  # records written before it was
        )

    @property
    def frame(self) -> FrameData:
        """The line blamed, as a frame."""
        return FrameData(self.file, self.line, self.function)

    def to_json(self) -> dict[str, Any]:
        return {
            "ms": self.ms,
            "file": self.file,
            "line": self.line,
            "function": self.function,
            "stack": [f.to_json() for f in self.stack],
            "kind": self.kind,
            "start_ns": self.start_ns,
            "lines": [x.to_json() for x in self.lines],
            "samples": self.samples,
            "awaited_by": list(self.awaited_by),
        }

    @property
    def end_ns(self) -> int:
        return self.start_ns + int(self.ms * 1e6)


@dataclass(frozen=True, slots=True)
class WaitData:
    """Time this request spent waiting on a loop that could not run it: `blocked` by another
    request (`request` names it), or `starved` (no request to blame: the loop thread could not
    get the GIL or a core, or the whole process was held off the CPU; `hops` names the
    threadpool calls running meanwhile)."""

    request: str | None
    ms: float
    kind: str  # "blocked" or "starved"
    hops: tuple[str, ...] = ()
    #: Wall clock when this request began to sit through the stall (0: not known).
    start_ns: int = 0

    @classmethod
    def from_json(cls, data: JSON) -> WaitData:
        request = data["request"]
        return cls(
            None if request is None else str(request),
            float(data["ms"]),
            str(data["kind"]),
            tuple(str(h) for h in data.get("hops", ())),
            int(data.get("start_ns", 0)),  # records written before it was
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"request": self.request, "ms": self.ms, "kind": self.kind}
        if self.hops:
            out["hops"] = list(self.hops)
        out["start_ns"] = self.start_ns
        return out

    @property
    def end_ns(self) -> int:
        return self.start_ns + int(self.ms * 1e6)


@dataclass(frozen=True, slots=True)
class WaitsData:
    """The time a request spent waiting, by cause; no instant is counted under two causes.

    `pool_ns`: its hops waited for a token or a thread of a pool that was full when they were
    submitted (`PoolData.full`). `loop_ns`: it was ready but the loop was busy with others: a
    hop's queued time at a pool with room (the loop had to get round to handing it over), and
    the time from a hop's end until its task ran again on the loop. `stall_ns`: it sat through
    stalls of the loop (`waited_on`); that time is taken out of the other two. Overlapping
    hops (a gather) count an instant once. See `asgi_lab/records/waits.py`.
    """

    pool_ns: int = 0
    loop_ns: int = 0
    stall_ns: int = 0

    @classmethod
    def from_json(cls, data: JSON) -> WaitsData:
        return cls(int(data["pool_ns"]), int(data["loop_ns"]), int(data["stall_ns"]))

    def to_json(self) -> dict[str, Any]:
        return {"pool_ns": self.pool_ns, "loop_ns": self.loop_ns, "stall_ns": self.stall_ns}

    @property
    def total_ns(self) -> int:
        return self.pool_ns + self.loop_ns + self.stall_ns


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
    #: Records of this worker's JSON lines deleted with its oldest rotated file just before
    #: this one was written (present only when non-zero).
    rotated_away: int = 0
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
    #: The time it waited, by cause (computed from `hops` and `waited_on`, see `WaitsData`).
    waits: WaitsData = WaitsData()
    #: The route as the framework names it (`/api/recipes/{slug}`: Starlette's and FastAPI's
    #: `scope["route"]`, Litestar's `scope["path_template"]`, Django's resolver); "" when it
    #: names none (a 404, a plain ASGI app): readers then group by `path`.
    route: str = ""
    #: The caller's tracing context (OpenTelemetry's), read on arrival when spans are wanted:
    #: in-process only, never written, never compared.
    parent: object = field(default=None, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: JSON) -> RecordData:
        """Read one record; a missing field or a value of the wrong shape raises `ValueError`
        naming the field."""
        try:
            return cls(
                _text(data["id"]),
                _text(data["method"]),
                _text(data["path"]),
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
                tuple(BlockData.from_json(b) for b in data["blocks"]),
                tuple(WaitData.from_json(w) for w in data["waited_on"]),
                int(data.get("dropped", 0)),  # written only when non-zero
                int(data.get("rotated_away", 0)),  # likewise
                str(data["type"]),
                int(data["disconnected_ns"]),
                str(data["departure_check"]),
                WaitsData.from_json(data["waits"]),
                _text(data["route"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            shown = str(data.get("id")) if isinstance(data, Mapping) else type(data).__name__
            raise ValueError(f"not a probe record ({shown}): {_diagnose(data)}") from None

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
            **({"rotated_away": self.rotated_away} if self.rotated_away else {}),
            "type": self.type,
            "disconnected_ns": self.disconnected_ns,
            "departure_check": self.departure_check,
            "waits": self.waits.to_json(),
            "route": self.route,
        }

    @property
    def seq(self) -> int:
        """This request's number in its worker (the part of the id after the pid)."""
        return int(self.id.rsplit("-", 1)[1])

    @property
    def seconds(self) -> float:
        return self.duration_ns / 1e9

    @property
    def cut_off(self) -> bool:
        """Whether a shutdown (or the server) cut this request off before it completed."""
        return self.error in (CANCELLED, STILL_RUNNING)

    @property
    def disconnected(self) -> bool:
        """Whether the client left before the response completed."""
        return self.disconnected_ns != 0

    @property
    def wait_s(self) -> float:
        """Seconds this request's hops were queued, summed (`threadpool.wait_ns`)."""
        return self.threadpool.wait_ns / 1e9


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _optional(read: Any) -> Any:
    return lambda value: None if value is None else read(value)


def _each(read: Any) -> Any:
    return lambda values: [read(v) for v in values]


# How each field of a record is read: only for naming the field that failed (`_diagnose`), so
# the common path stays the one constructor call above.
_FIELDS: dict[str, Any] = {
    "id": _text,
    "method": _text,
    "path": _text,
    "status": int,
    "client": _optional(_text),
    "start_ns": int,
    "response_ns": int,
    "end_ns": int,
    "duration_ns": int,
    "ppid": int,
    "pid": int,
    "loop": LoopData.from_json,
    "handler": HandlerData.from_json,
    "in_flight": int,
    "threadpool": ThreadpoolData.from_json,
    "hops": _each(HopData.from_json),
    "error": _optional(_text),
    "blocks": _each(BlockData.from_json),
    "waited_on": _each(WaitData.from_json),
    "type": _text,
    "disconnected_ns": int,
    "departure_check": _text,
    "waits": WaitsData.from_json,
    "route": _text,
}


def _diagnose(data: Any) -> str:
    """Which field of `data` keeps it from being a record, in words."""
    if not isinstance(data, Mapping):
        return f"expected a JSON object, got {type(data).__name__}"
    for name, read in _FIELDS.items():
        if name not in data:
            return f"field {name!r} is missing"
        try:
            read(data[name])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return f"field {name!r} does not fit: {exc!r}"
    return "a field does not fit"


@dataclass(frozen=True, slots=True)
class ServedBy:
    """Where the code that asks runs: the `served_by` object of every JSON answer the lab's
    endpoints give. Outside a probed request what cannot be known is None: the loop off a
    loop's thread, whether this is a threadpool thread, the requests in flight, the tokens."""

    pid: int
    loop: LoopData | None
    thread: ThreadData
    in_threadpool: bool | None
    in_flight: int | None
    #: The tokens when the request arrived, and the wait of its threadpool calls so far.
    threadpool: ThreadpoolData | None

    @classmethod
    def from_json(cls, data: JSON) -> ServedBy:
        loop, handler, tokens = data["loop"], data["handler"], data["threadpool"]
        return cls(
            int(data["pid"]),
            None if loop is None else LoopData.from_json(loop),
            ThreadData.from_json(handler["thread"]),
            None if handler["in_threadpool"] is None else bool(handler["in_threadpool"]),
            None if data["in_flight"] is None else int(data["in_flight"]),
            None if tokens is None else ThreadpoolData.from_json(tokens),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "loop": None if self.loop is None else self.loop.to_json(),
            "handler": {"thread": self.thread.to_json(), "in_threadpool": self.in_threadpool},
            "in_flight": self.in_flight,
            "threadpool": None if self.threadpool is None else self.threadpool.to_json(),
        }


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
