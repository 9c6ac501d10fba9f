"""What the probe keeps about one request while it runs, and how it becomes a `RecordData`.

`Record` and `Hop` are mutable and cheap to fill on the loop; `data()` turns a finished record
into the frozen `RecordData` of the records room, on the writer thread (or for whoever reads the
ring), sharing the loop's and threads' parts between records rather than copying them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, TypeVar

from asgi_lab.probe.endpoints import django_route
from asgi_lab.probe.identity import LoopInfo, tasks_waiting
from asgi_lab.records.schema import (
    BlockData,
    HopData,
    PoolData,
    RecordData,
    ServedBy,
    ThreadData,
    ThreadpoolData,
    WaitData,
    request_id,
)
from asgi_lab.records.waits import split_waits
from asgi_lab.redact import userinfo
from asgi_lab.types import Scope

__all__ = ["Hop", "Record", "resolve_handler", "route_of"]

T = TypeVar("T")


class Hop:
    """One call the request made into a worker thread or process: through anyio
    (`hook.py`) or the loop's `run_in_executor` (`executors.py`)."""

    __slots__ = (
        "call",
        "endpoint",
        "thread",
        "called_ns",
        "start_ns",
        "end_ns",
        "resumed_ns",
        "pool",
        "size",
        "busy",
        "queued",
        "processes",
    )

    def __init__(
        self,
        call: str,
        endpoint: bool,
        called_ns: int,
        pool: object,
        size: float | None,
        busy: int,
        queued: int,
        processes: bool = False,
    ) -> None:
        self.call = call
        # True when the function is the route's endpoint (see `endpoints.py`).
        self.endpoint = endpoint
        self.thread: ThreadData | None = None
        self.called_ns = called_ns
        self.start_ns = 0
        self.end_ns = 0
        # Stamped on the loop when the awaiting task runs again (see `hook.py`, `executors.py`).
        self.resumed_ns = 0
        # The pool's name, or an object whose str() is its name: an executor's name is learnt
        # from its threads, maybe after this hop was submitted (see `executors.py`).
        self.pool = pool
        self.size = size
        self.busy = busy
        self.queued = queued
        self.processes = processes

    @property
    def queued_ns(self) -> int:
        """From the call to the function starting on its thread: token wait plus hand-off."""
        return self.start_ns - self.called_ns if self.start_ns else 0

    def data(self) -> HopData:
        return HopData(
            self.call,
            self.endpoint,
            self.thread,
            self.called_ns,
            self.start_ns,
            self.end_ns,
            self.queued_ns,
            PoolData(str(self.pool), self.size, self.busy, self.queued, self.processes),
            self.resumed_ns,
        )


class Record:
    """One request: what was asked, when, and which process, loop and threads served it.

    Times are wall-clock nanoseconds (`time.time_ns`) so records of several processes line up on
    one timeline; `duration_ns` comes from the monotonic clock.
    """

    # No __slots__: what most requests never change (status aside) stays a class attribute,
    # so a new record sets only what it knows on arrival (0.52 -> 0.38 us to build one, measured
    # in isolation).
    end_ns = 0
    duration_ns = 0
    response_ns = 0
    status = 0
    #: Set by whoever knows best which thread ran the handler (see ProbeMiddleware).
    handler: ThreadData | None = None
    #: Set when a framework named the route's endpoint to a hook (see `endpoints.py`), so that
    #: an endpoint never sent to a thread is known to have run on the loop.
    endpoint_known = False
    error: str | None = None
    #: Set when the probe sees the client gone before the response completed.
    disconnected_ns = 0
    #: Whether the probe could ask the server if the client left: "" (quick response, never
    #: asked), "polled", or "unavailable" (the server's `receive` cannot be polled).
    departure_check = ""
    #: The caller's tracing context (OpenTelemetry's), read on arrival when spans are wanted.
    parent: object = None
    #: What the framework left in the scope to name the route, read when the request ends
    #: (see `route_of`), and the root path the request arrived with.
    route_found: object = None
    root_path = ""
    #: Set when the app behind the probe is Django's: its routes are asked of its resolver.
    django = False
    # Filled on the loop thread: hops by the threadpool hook, blocks and waits by the watchdog
    # when a stall ends. Empty tuples until the first `add_*`: most requests have none.
    hops: Sequence[Hop] = ()
    blocks: Sequence[BlockData] = ()
    waited_on: Sequence[WaitData] = ()

    def __init__(self, seq: int, scope: Scope, loop: LoopInfo, in_flight: int) -> None:
        """Start the record of a request arriving now; on the loop thread, so kept lean."""
        self.start_ns = time.time_ns()
        self._started = time.perf_counter_ns()
        self.seq = seq
        self.type: str = scope["type"]
        # A WebSocket upgrade is a GET, but its scope has no method.
        self.method: str = scope.get("method", "GET")
        path: str = scope["path"]
        # An absolute-form target may carry `user:password@` (h11 passes it on as the path).
        self.path = userinfo(path) if "@" in path else path
        self.client: Any = scope.get("client")
        root: str = scope.get("root_path", "")
        if root:
            self.root_path = root
        self.loop = loop
        limiter = loop.limiter
        total = self.total = limiter.total_tokens
        borrowed = self.borrowed = limiter.borrowed_tokens
        self.waiting = tasks_waiting(limiter, borrowed, total)
        # Other requests this probe was serving when this one arrived.
        self.in_flight = in_flight
        # Held only while the request runs, to see which threadpool call is the endpoint.
        self.scope: Scope | None = scope

    # The three `add_*` run on the loop thread (the threadpool hook, the watchdog's settle), as
    # the record's other changes do: a read and a set, not an atomic append.
    def add_hop(self, hop: Hop) -> None:
        self.hops = _appended(self.hops, hop)

    def add_block(self, block: BlockData) -> None:
        self.blocks = _appended(self.blocks, block)

    def add_wait(self, wait: WaitData) -> None:
        self.waited_on = _appended(self.waited_on, wait)

    def finish(self) -> None:
        """The request is over: stamp the end, settle the handler thread, drop the scope."""
        self.end_ns = time.time_ns()
        self.duration_ns = time.perf_counter_ns() - self._started
        if self.handler is None:
            self.handler = resolve_handler(self, self.end_ns)
        scope = self.scope
        if scope is not None:
            # Two lookups; the route is named off the loop, in `data()`.
            found = scope.get("route") or scope.get("path_template")
            if found is not None:
                self.route_found = (found, scope.get("root_path", ""))
        self.scope = None

    @property
    def id(self) -> str:
        """Unique across workers: the pid, then this probe's request number."""
        return request_id(self.loop.pid, self.seq)

    @property
    def handler_thread(self) -> ThreadData:
        return self.handler or self.loop.thread

    @property
    def wait_ns(self) -> int:
        """Time this request's threadpool calls spent waiting for a token and a thread."""
        return sum(h.queued_ns for h in self.hops) if self.hops else 0

    def served_by(self, thread: ThreadData) -> ServedBy:
        """Where `thread`, now serving this request, runs: the `served_by` of every answer."""
        loop = self.loop
        return ServedBy(
            loop.pid,
            loop.data,
            thread,
            thread.native_id != loop.thread.native_id,
            self.in_flight,
            ThreadpoolData(self.total, self.borrowed, self.waiting, self.wait_ns),
        )

    def data(self) -> RecordData:
        """The record in the schema's frozen form."""
        loop = self.loop
        client = self.client
        hops = tuple([h.data() for h in self.hops]) if self.hops else ()
        waited_on = tuple(self.waited_on)
        return RecordData(
            id=request_id(loop.pid, self.seq),
            method=self.method,
            path=self.path,
            status=self.status,
            client=f"{client[0]}:{client[1]}" if client else None,
            start_ns=self.start_ns,
            response_ns=self.response_ns,
            end_ns=self.end_ns,
            duration_ns=self.duration_ns,
            ppid=loop.ppid,
            pid=loop.pid,
            loop=loop.data,
            handler=loop.handler(self.handler_thread),
            in_flight=self.in_flight,
            threadpool=ThreadpoolData(self.total, self.borrowed, self.waiting, self.wait_ns),
            hops=hops,
            error=self.error,
            blocks=tuple(self.blocks),
            waited_on=waited_on,
            type=self.type,
            disconnected_ns=self.disconnected_ns,
            departure_check=self.departure_check,
            waits=split_waits(hops, waited_on),
            route=route_of(self.route_found, self.root_path)
            or (django_route(self.path, self.root_path) if self.django else None)
            or "",
            parent=self.parent,
        )


def resolve_handler(record: Record, before_ns: int) -> ThreadData:
    """The thread that ran the handler, in order of trust: the thread that called `served_by()`
    (already in `record.handler`); the hop whose function is the route's endpoint (as the
    framework names it, see `endpoints.py`); the loop thread when the endpoint is known but was
    never sent to a thread (an `async def`);
    otherwise, when the request's only trip off the loop was one call that started before
    `before_ns`, that call's thread; else the loop thread. (Several calls, none of them named the
    endpoint, were made by a handler on the loop: Datasette's queries, each on its own thread.)"""
    if record.handler is not None:
        return record.handler
    hops = record.hops
    for hop in hops:
        if hop.endpoint and hop.thread is not None:
            return hop.thread
    scope = record.scope
    if record.endpoint_known or (scope is not None and scope.get("endpoint") is not None):
        return record.loop.thread
    if len(hops) == 1:
        [hop] = hops
        if hop.thread is not None and hop.start_ns <= before_ns:
            return hop.thread
    return record.loop.thread


def _appended(items: Sequence[T], item: T) -> list[T]:
    """`items` with `item` at the end: the same list, or a new one in place of the empty tuple."""
    if isinstance(items, list):
        items.append(item)
        return items
    return [item]


def route_of(found: object, root_path: str) -> str | None:
    """The route template a framework left in the scope, or None.

    `found` is `(scope["route"] or scope["path_template"], scope["root_path"])` as they stood
    when the request ended: Starlette's and FastAPI's route (its `path`, below the mounts the
    request went through, which grew the root path), or Litestar's template (a string, whole).
    """
    if not isinstance(found, tuple):
        return None
    route, mounted = found
    if isinstance(route, str):
        return route
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return None
    if isinstance(mounted, str) and mounted.startswith(root_path):
        return mounted[len(root_path) :] + path
    return path
