"""ProbeMiddleware: a record per request, without blocking the loop.

Theory of operation
-------------------
For every HTTP request, on the loop thread, the middleware:

1. reads who is running: pid, the loop (cached per loop), the anyio limiter's tokens;
2. creates a `Record` and puts it in the `current_record` context variable. anyio copies the
   context into worker threads, so `served_by()` in a handler and the threadpool hook
   (see `hook.py`) both find it, on whatever thread they run. Every other road off the loop
   (`asyncio.to_thread`, `run_in_executor`, Django's asgiref, Quart, Litestar) goes through the
   loop's `run_in_executor`, whose wrapper reads the record on the loop at submission (see
   `executors.py`): a hop is attributed to its request even when the context is not copied;
3. on `http.response.start`, decides which thread ran the handler (below), stamps the status and
   adds one `x-asgi-lab` header (`pid=..; loop=..; thread=..; request=..`, see `schema.py`); when
   spans are wanted, it notes the app's own request span, if the app traces itself (`otel.py`);
4. when the app returns, stamps the end time and hands the record to the ring (a deque append)
   and, if a trace or a log line is wanted, to the writer (another append). Formatting, file I/O
   and logging happen on the writer's own thread, never on the loop (see `sinks.py`).

Which thread ran the handler, in order of trust: the thread that called `served_by()`; the
hop whose function is the route's endpoint, as the framework names it (`scope["endpoint"]` for
Starlette and FastAPI, `scope["route_handler"]` for Litestar, the request context for Quart,
Django's URL resolver for Django: see `endpoints.py`); the loop thread when the endpoint is known
but was never sent to a thread (an `async def`, even when other hops, such as Django's signal
receivers, left the loop); otherwise the one hop a request made, when it made only one, that
started before the response did; else the loop thread (several calls, none named the endpoint:
a handler on the loop made them). Each hop names its pool ("anyio", "default-executor",
"asgiref", ...).

Nothing happens at import. Settings (the trace directory) are read, and the hooks installed, when
the app starts (lifespan) or on its first request: anyio's once per process, the executor hook on
each loop when the probe first meets it. Every request checks with one identity test that the
anyio hook is still in place (see `hook.py`); the executor hook is checked when a loop is met.

Clients that leave
------------------
A client can leave before its response is complete (a timeout, a closed tab). The server then
drops what the app sends, so the app's status would be a claim. The probe never takes a message
the app would read: it sees `http.disconnect` when the app's own `receive` returns it before the
response completed, and, for a response that starts more than `CHECK_AFTER_NS` after the request
arrived, it asks `receive` once more without waiting (`poll`) when nothing but the end of an empty
body can be pending (that message is held and handed to the app on its next `receive`).
uvicorn answers at once with `http.disconnect` when the client is gone. The record then carries
`disconnected_ns` (when the probe saw it) and, if the response had not started, status 499.
Requests answered within `CHECK_AFTER_NS` pay nothing for this.

The ASGI spec promises only that `receive()` returns an awaitable, nothing about how it is built
or what abandoning one does. Stepping by hand is safe for a Python coroutine, whose abandoned wait
is withdrawn by `close()` (uvicorn's, hypercorn's and daphne's `receive`, each tested); granian's
awaitables are Rust objects that cannot be stepped or withdrawn. There the probe steps aside: the
record's `departure_check` says "polled" where it looked, "unavailable" where it could not.

Faults of its own
-----------------
An observer never changes what it observes. Every step the probe takes on a request (beginning the
record, stamping `receive` and `send`, adding the header, finishing the record) is guarded: a
failure is counted in `probe_errors` (by step in `probe_faults`), logged once per step through the
`asgi_lab.probe` logger, and the request goes on exactly as the app answers it, unprobed from there
(see `faults.py`). Failures of the app itself pass through untouched.

What it costs
-------------
Under a server the probe costs several times what the same code costs in a loop calling the app
(`bench/probe_overhead.py`: about 4 µs a request in-process on a hello world; `bench/peers.py`:
about 18 µs of the server's CPU per request under uvicorn and wrk, on the raw hello and on
FastAPI's). Where that goes, measured (figures in the README's cost table):

- The probe's own frames are a minority of it: `bench/where.py` (py-spy on the worker under the
  same load) finds them in about a tenth of the samples on FastAPI's hello.
- Any middleware of this kind pays the multiplier. The least probe (a record, a context
  variable, the header and a ring: four Python calls a request) costs about 10 µs under uvicorn
  and 1.5 µs in-process. Each Python call the probe makes runs once between two requests of a
  far bigger server and app, its code and data cold every time, where a loop calling the app
  keeps them hot. (That is an inference from the ladder: these VMs give `perf stat` no hardware
  counters to show the cache misses.) So what counts is the number of calls and objects per
  request on the loop, not their size: the send handed to the app is a plain function, not a
  coroutine, and a hop reads what it needs once.
- The header is partly paid by the server: uvicorn checks and lower-cases each response header
  in Python, so one constant header costs a raw hello about 9 % (`probe_overhead.py`).
- Part of it is garbage collection, and whether it is depends on the load. CPython collects
  its youngest generation when the tracked objects allocated and not yet freed pass 700, and a
  request in flight holds some: at wrk's 64 connections FastAPI's hello alone stays just under
  that, while a middleware that keeps one context variable set for the request (three objects
  more each) tips it into a collection every 70 requests, and the collections promote what the
  requests in flight hold until full collections walk the app's whole heap.
  `python bench/gc_pressure.py` (the server's CPU per request, medians of 3 rounds): at 64
  connections the probe adds 25 µs, 5.3 of them collecting (bare: 0.03), and the context
  variable alone adds 7 µs, 4.7 collecting; at 32 connections nothing collects, the probe adds
  18 µs and the context variable 1; at 128 bare collects too. `gc.freeze()` after startup
  takes the collecting down to 3.4 µs (full collections no longer walk the startup heap). The
  raw hello holds too little to reach 700 either way.
- A `def` endpoint pays most: each hop adds a coroutine around anyio's call, a `Hop`, and a
  wrapper on the worker thread (about 13 µs a hop under uvicorn), and a response that starts
  more than `CHECK_AFTER_NS` after its request (every `def` one under load) pays the departure
  check's two steps into the server's `receive` (about 11 µs).
- Compiled by mypyc (`ASGI_LAB_COMPILE=1`, see `hot.py`) the same code costs less in-process:
  `python bench/compiled.py --compiled .nox/compiled/bin/python --rounds 12` (the process's CPU
  per request, medians) gives 3.7 -> 2.4 µs on the raw hello and 10.0 -> 5.6 µs on FastAPI's
  `async def` hello (bare/probed 0.84 -> 0.90). On the `def` endpoint with a sync dependency
  the worker threads' wake-ups drown the difference (two runs: 27 -> 38 and 37 -> 22 µs).
  Under uvicorn (`bench/peers.py --compiled DIR`) it takes less off: 21 -> 17 µs of CPU added
  on FastAPI's hello (0.823 -> 0.853 of bare), 78 -> 65 µs on `def` + a sync dependency
  (0.767 -> 0.795), 20 -> 17 µs on the raw hello (0.628 -> 0.667). What the compiler saves is
  the interpreter's dispatch; what stays is the same multiplier as above, and the work in
  modules it does not compile (the writer's, anyio's, the server's header handling).

WebSocket sessions get a record too (`type` "websocket"): status 101 when accepted, 403 when
closed before accepting; no header is added to the handshake.

On `lifespan.shutdown` the writer is flushed before the server is told shutdown is complete, so
a normal worker exit loses no record; the watchdog's stalls that no request was running in (the
app's startup, a background task) are written then beside the records (`records/lines.py`). A
worker that SIGTERM would kill before its lifespan shutdown (hypercorn's) closes the writer on
that signal instead (`exits.py`).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Generator, Sequence
from typing import IO, Any

import anyio.to_thread

from asgi_lab import procfs, settings
from asgi_lab.probe import executors, exits, faults, hook
from asgi_lab.probe.faults import fault
from asgi_lab.probe.hook import current_record
from asgi_lab.probe.identity import LoopInfo, current_loop, current_thread
from asgi_lab.probe.live import WATCHDOG_MS, Publisher
from asgi_lab.probe.log import LogLines
from asgi_lab.probe.record import Record, resolve_handler
from asgi_lab.probe.sinks import RecordRing, RecordWriter, Sink
from asgi_lab.probe.watchdog import Watchdog
from asgi_lab.records.ledger import Ledger
from asgi_lab.records.lines import JsonLines, write_stalls
from asgi_lab.records.schema import CANCELLED, HEADER, STILL_RUNNING, BlockData, LoopData, ServedBy
from asgi_lab.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SCOPE_KEY", "ProbeMiddleware", "served_by"]

#: The scope key under which the middleware makes itself known to the app it wraps.
SCOPE_KEY = "asgi_lab.probe"

_HEADER = HEADER.encode()
_unset: Any = object()

#: The status recorded for a client that left before the response started (nginx's "client
#: closed request"): nothing was sent, so the app's status would be a claim, not a fact.
GONE = 499
#: A response that starts later than this after its request is checked for a departed client
#: (see "Clients that leave"); quicker ones only through the app's own `receive` calls.
CHECK_AFTER_NS = 1_000_000


def _expects(scope: Scope) -> bool:
    return any(name == b"expect" for name, _ in scope["headers"])


class Unpollable(Exception):
    """`receive()` gave an awaitable that cannot be stepped and withdrawn (granian's)."""


def poll(receive: Receive) -> Message | None:
    """What `receive()` would return without waiting, or None (the wait is withdrawn).

    The awaitable is stepped once by hand: a server that has a message ready (uvicorn, once the
    body is read, answers `http.disconnect` at once when the client is gone) finishes in that
    step; one that would wait is closed there, so no message is taken. Only a Python coroutine
    (or generator) promises that `close()` withdraws the wait; anything else raises `Unpollable`
    before it is stepped.
    """
    if not _steppable(receive):
        raise Unpollable(type(receive).__name__)
    awaitable = receive()
    steps = awaitable.__await__()
    if not isinstance(steps, Generator):
        # Made but never stepped: nothing has started that could take a message. A coroutine
        # made by an async `receive` would warn "never awaited"; close it quietly.
        close = getattr(awaitable, "close", None)
        if close is not None:
            close()
        raise Unpollable(type(steps).__name__)
    try:
        steps.send(None)
    except StopIteration as done:
        message: Message = done.value
        return message
    steps.close()
    return None


def _steppable(receive: Receive) -> bool:
    """Whether `receive` is written in Python (a function or a bound method of one): a builtin
    or extension callable (granian's) may start its I/O at the call itself."""
    function = getattr(receive, "__func__", receive)
    return hasattr(function, "__code__")


class ProbeMiddleware:
    """Pure-ASGI middleware that records where each request of any ASGI app ran."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        headers: bool = True,
        ring_size: int = 1000,
        trace: str | os.PathLike[str] | IO[str] | None = _unset,
        log: bool | str = False,
        watchdog: bool | float = False,
        writer_interval: float = 0.05,
        otel: bool | Sink = False,
        threads: int | None = None,
        own: Sequence[str] = (),
    ) -> None:
        """Wrap `app`.

        `trace` is where JSON lines go: a directory (created if missing; each process writes
        its own file there) or a text stream; by default $ASGI_LAB_TRACE_DIR, and none when
        that is unset. `log` logs a line per request (`True` or "line"; "json" for JSON);
        $ASGI_LAB_LOG, when set, wins. `watchdog` names the request and the line that blocks
        the loop (`True`: past $ASGI_LAB_BLOCK_MS, 100 ms by default; a number: past that many
        ms); $ASGI_LAB_BLOCK_MS, when set, wins, and 0 turns it off. All are read when the app
        starts, not here.

        `otel=True` exports each record as OpenTelemetry spans (see `otel.py`): over OTLP/HTTP
        to $ASGI_LAB_OTLP when that is set (which turns the export on by itself), else to the
        global tracer provider; or pass the sink to use, such as `OtelSpans(tracer_provider=..)`.

        `threads` sets the tokens of anyio's default limiter on every loop the probe meets (as
        `asgi-lab trace --threads` does); None leaves them as they are.

        `own` names the top-level packages of the app's own code, for the watchdog to blame
        even when they are installed in site-packages (as `asgi-lab trace pkg.main:app` names
        `pkg`); code elsewhere than site-packages and the standard library is always its own.
        """
        if threads is not None and not (isinstance(threads, int) and threads >= 1):
            raise ValueError(f"threads must be a whole number from 1, got {threads!r}")
        self.threads = threads
        self.own = frozenset(own)
        self.app = app
        self.headers = headers
        self.ring = RecordRing(ring_size)
        self.writer: RecordWriter | None = None
        self._trace = trace
        self._log = "line" if log is True else (log or "off")
        self._watchdog = watchdog
        self.block_ms: float = 0.0  # the watchdog's threshold once started; 0 when off
        self._writer_interval = writer_interval
        self._otel = otel
        # Read a request's tracing parent on arrival, and the app's own span when the response
        # starts, once spans are wanted (see otel.py).
        self._parent: Callable[[Scope], object] | None = None
        self._inner: Callable[[object], object] | None = None
        self._started = False
        self._failed: ValueError | None = None  # why start() could not, once it could not
        # Started by a lifespan startup: then its shutdown closes the writer (and the ledger);
        # without one, uvicorn ends a worker by its own SIGTERM and nothing closes them.
        self._in_lifespan = False
        # The trace directory, where stalls no request was running in are written at shutdown.
        self._stall_dir: str | os.PathLike[str] | None = None
        # The hook this probe last saw in place; a request finding another installs again.
        self._hook: object = None
        self._sequence = 0
        self._in_flight = 0
        # The last loop seen and its identity, as one pair so that threads serving other loops
        # never see one loop with another's identity: one `is` test per request.
        self._loop: tuple[asyncio.AbstractEventLoop, LoopInfo, Watchdog | None] | None = None
        self.watchdogs: dict[str, Watchdog] = {}  # by loop id
        self.loops: dict[str, LoopInfo] = {}  # every loop met, by id
        # Sends snapshots to a live page when $ASGI_LAB_LIVE names one (see live.py).
        self.live: Publisher | None = None
        # Django names a request's route only to its resolver: asked off the loop, and only
        # when the app is Django's own handler (any other app's paths are not Django's).
        self._django = type(app).__module__.startswith("django.")

    def start(self) -> None:
        """Read the settings, install the threadpool hook, open the writer; once per process.

        Raises `settings.SettingError` for a bad environment variable, `ValueError` for a trace
        directory that cannot be written.
        """
        if self._started:
            return
        if self._failed is not None:
            raise self._failed  # once is enough to know: no request pays for it again
        try:
            self._start()
        except ValueError as exc:
            self._failed = exc
            raise

    def _start(self) -> None:
        current = settings.load_probe()
        trace = current.trace_dir if self._trace is _unset else self._trace
        log = current.log or self._log
        sinks: list[Sink] = []
        ledger: Ledger | None = None
        if trace:
            lines = JsonLines(trace, max_bytes=current.trace_max_bytes, keep=current.trace_keep)
            try:
                lines.check()
            except OSError as exc:
                expected = f"a directory this process can write ({exc.strerror or exc})"
                if self._trace is _unset:
                    raise settings.SettingError(
                        "ASGI_LAB_TRACE_DIR", str(trace), expected
                    ) from None
                raise ValueError(f"trace must be {expected}, got {trace!r}") from None
            sinks.append(lines)
            if isinstance(trace, str | os.PathLike):
                self._stall_dir = trace
                try:
                    siblings = procfs.children(os.getppid())
                    ledger = Ledger.open(trace, siblings, lifespan=self._in_lifespan)
                except OSError as exc:  # the records still go; only the count is missing
                    fault("start", exc)
        hook.install()
        executors.install()
        if log != "off":
            sinks.append(LogLines(log))
        if self._otel is not False or current.otlp:
            from asgi_lab.probe import otel

            self._parent = otel.parent_finder()
            self._inner = otel.inner_parent()
            use = self._otel
            sinks.append(
                use if not isinstance(use, bool) else otel.OtelSpans(endpoint=current.otlp)
            )
        if sinks:
            self.writer = RecordWriter(sinks, interval=self._writer_interval, ledger=ledger)
            # A worker SIGTERM would kill outright (hypercorn's) writes its records first.
            exits.install()
        chosen = self._watchdog
        if current.block_ms is not None:
            self.block_ms = current.block_ms
        elif chosen is True:
            self.block_ms = 100.0
        elif chosen:
            self.block_ms = float(chosen)
        if current.live:
            # The page's requests in flight, loop lag and stalls are the watchdog's.
            self.block_ms = self.block_ms or WATCHDOG_MS
            self.live = Publisher(self, current.live)
            self.live.start()
        self._started = True

    def _meet(self, running: asyncio.AbstractEventLoop) -> tuple[LoopInfo, Watchdog | None]:
        """The identity of a loop met for the first time, and its watchdog when one is wanted."""
        loop = current_loop()
        if self.threads is not None:
            loop.limiter.total_tokens = self.threads
        executors.watch(running, loop.data.impl)
        self.loops[loop.id] = loop
        watch = self.watchdogs.get(loop.id)
        if watch is None and self.block_ms > 0:
            watch = self.watchdogs[loop.id] = Watchdog(
                loop.id, block_ms=self.block_ms, own=self.own
            )
            watch.start()
        self._loop = (running, loop, watch)
        return loop, watch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Everything here runs on the loop thread for every request: keep it lean. The work
        # that can wait (formatting, I/O) happens in the writer thread. Calling the app is
        # written out here rather than in a helper coroutine: one coroutine less per request.
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        probed_receive: Receive
        probed_send: Send
        try:
            record, watch = self._begin(scope)
            if kind == "http":
                exchange = _Exchange(self, record, scope, receive, send)
                probed_receive, probed_send = exchange.receive, exchange.send
            else:
                probed_receive, probed_send = receive, self._websocket(record, send)
        except Exception as exc:
            fault("begin", exc)
            await self.app(scope, receive, send)
            return
        token = current_record.set(record)
        self._in_flight += 1
        task = None
        if watch is not None:
            task = asyncio.current_task()
            if task is not None:
                watch.requests[task] = record
        try:
            await self.app(scope, probed_receive, probed_send)
        except BaseException as exc:
            record.error = CANCELLED if isinstance(exc, asyncio.CancelledError) else repr(exc)
            if not record.status:
                record.status = 500
            raise
        finally:
            self._in_flight -= 1
            current_record.reset(token)
            try:
                if watch is not None:
                    if watch.stall is not None:
                        watch.settle()  # the loop runs again: findings reach this record in time
                    if task is not None:
                        watch.requests.pop(task, None)
                if not record.end_ns:  # else written as cut off at shutdown, while it ran
                    record.finish()
                    self.ring.append(record)
                    if self.writer is not None:
                        self.writer.put(record)
            except Exception as exc:
                fault("finish", exc)

    @property
    def requests_begun(self) -> int:
        """HTTP requests and WebSocket sessions this probe has begun to record."""
        return self._sequence

    @property
    def probe_errors(self) -> int:
        """Failures of the probe's own machinery in this process (never the app's)."""
        return faults.total()

    @property
    def probe_faults(self) -> Counter[str]:
        """`probe_errors` by step: "begin", "receive", "send", "hop", "finish"."""
        return Counter(faults.counts)

    def _begin(self, scope: Scope) -> tuple[Record, Watchdog | None]:
        """A new record for a request (or WebSocket) arriving now, the hook checked in place,
        and the watchdog of its loop (if any)."""
        hooked = anyio.to_thread.run_sync
        if hooked is not self._hook or hooked is not hook.live:
            # First request, or someone replaced or removed the hook since (see hook.py).
            self.start()
            self._hook = hook.ensure_installed()
            executors.install()
            self._loop = None  # meet the loop again: its executor hook is checked there
        running = asyncio.get_running_loop()
        cached = self._loop
        if cached is not None and cached[0] is running:
            loop, watch = cached[1], cached[2]
        else:
            loop, watch = self._meet(running)
        self._sequence += 1
        record = Record(self._sequence, scope, loop, self._in_flight)
        if self._django:
            record.django = True
        if self._parent is not None:
            record.parent = self._parent(scope)
        scope[SCOPE_KEY] = self
        return record, watch

    def _websocket(self, record: Record, send: Send) -> Send:
        """`send` for a WebSocket session: its record's status is the handshake's answer."""

        async def send_probed(message: Message) -> None:
            if not record.status:
                try:
                    kind = message["type"]
                    if kind == "websocket.accept":
                        record.status = 101
                    elif kind == "websocket.close":
                        record.status = 403  # what uvicorn answers to a close before accepting
                    elif kind == "websocket.http.response.start":
                        record.status = message["status"]
                    if record.status:
                        record.response_ns = time.time_ns()
                except Exception as exc:
                    fault("send", exc)
            await send(message)

        return send_probed

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        failure: str | None = None

        async def receive_starting() -> Message:
            nonlocal failure
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._in_lifespan = True
                try:
                    self.start()
                    self._meet(asyncio.get_running_loop())  # watch the loop from the start
                except ValueError as exc:  # a SettingError, or a trace it cannot write
                    failure = str(exc)
            return message

        async def send_flushing(message: Message) -> None:
            kind = message["type"]
            if kind == "lifespan.startup.complete" and failure is not None:
                # The app started, but the probe cannot run as configured: say why and stop.
                message = {"type": "lifespan.startup.failed", "message": failure}
            elif kind.startswith("lifespan.shutdown"):
                await self.aclose()
            await send(message)

        await self.app(scope, receive_starting, send_flushing)

    async def aclose(self) -> None:
        """Write what is known of requests still running, stop the watchdogs, write their
        stalls with no request beside the records, flush the sinks and stop the writer, off the
        loop thread."""
        self._write_still_running()
        stalls = [block for watch in self.watchdogs.values() for block in watch.unclaimed]
        for watch in self.watchdogs.values():
            watch.stop()
            watch.unclaimed = []
        if self.live is not None:
            await anyio.to_thread.run_sync(self.live.stop)
        directory = self._stall_dir if stalls else None
        if self.writer is not None or directory is not None:
            await anyio.to_thread.run_sync(self._close, directory, stalls)

    def _close(self, directory: str | os.PathLike[str] | None, stalls: list[BlockData]) -> None:
        if directory is not None:
            try:
                write_stalls(directory, os.getpid(), stalls)
            except OSError as exc:
                fault("finish", exc)
        if self.writer is not None:
            self.writer.close()

    def _write_still_running(self) -> None:
        """Requests still running at shutdown (a sync call no cancel stops) would leave no
        record once the writer closes: write what is known of them, marked as cut off. The
        watchdogs know every request in flight; without one, these go unrecorded."""
        flying = {id(r): r for w in self.watchdogs.values() for r in w.requests.values()}
        for record in flying.values():
            if record.end_ns:
                continue
            record.error = STILL_RUNNING
            record.finish()
            self.ring.append(record)
            if self.writer is not None:
                self.writer.put(record)

    def close(self) -> None:
        """Flush the sinks and stop the writer (blocking; not on a running loop)."""
        if self.live is not None:
            self.live.stop()
        if self.writer is not None:
            self.writer.close()


class _Exchange:
    """One HTTP request's `receive` and `send` as the app sees them: they stamp the record, add
    the header and watch for a client that leaves (see "Clients that leave" above).

    An object with two bound methods rather than two closures: the same work, about 0.4 µs less
    per request on the loop (no cell per shared variable; measured in-process, side by side).
    """

    __slots__ = ("probe", "record", "scope", "_receive", "_send", "held", "body_done", "complete")

    def __init__(
        self, probe: ProbeMiddleware, record: Record, scope: Scope, receive: Receive, send: Send
    ) -> None:
        self.probe = probe
        self.record = record
        self.scope = scope
        self._receive = receive
        self._send = send
        # A message taken by `poll` for the app, handed over on its next `receive`.
        self.held: Message | None = None
        self.body_done = False  # the app, or `poll`, has taken the request's last body message
        self.complete = False  # the response's last body message has been sent

    async def receive(self) -> Message:
        held = self.held
        if held is None:
            message = await self._receive()
        else:
            message, self.held = held, None
        try:
            if message["type"] == "http.disconnect":
                record = self.record
                if not self.complete and not record.disconnected_ns:
                    record.disconnected_ns = time.time_ns()
            elif not message.get("more_body", False):
                self.body_done = True
        except Exception as exc:
            fault("receive", exc)
        return message

    def send(self, message: Message) -> Awaitable[None]:
        # A plain function handing back the server's own awaitable, not a coroutine awaiting
        # it: the app awaits exactly what the server gave, and the loop runs one coroutine
        # less per message (see "What it costs" above).
        try:
            if message["type"] == "http.response.start":
                message = self._started(message)
            elif not message.get("more_body", False):
                self.complete = True
        except Exception as exc:
            fault("send", exc)
        return self._send(message)

    def _started(self, message: Message) -> Message:
        """Stamp the response's start; the message to send, with our header when wanted."""
        record = self.record
        now = record.response_ns = time.time_ns()
        if not record.disconnected_ns and now - record.start_ns > CHECK_AFTER_NS:
            self._check_departed(now)
        # Nothing reaches a client that has gone: say so rather than the app's status.
        record.status = GONE if record.disconnected_ns else message["status"]
        inner = self.probe._inner
        if inner is not None:
            found = inner(record.parent)
            if found is not None:
                record.parent = found
        loop = record.loop
        # No threadpool call so far: the loop thread ran the handler.
        thread = record.handler
        if thread is None:
            thread = record.handler = resolve_handler(record, now) if record.hops else loop.thread
        if self.probe.headers:
            value = loop.header_prefix(thread) + str(record.seq).encode()
            # A new message: the app's own stays as it sent it, whatever happens here.
            return {**message, "headers": [*message.get("headers", ()), (_HEADER, value)]}
        return message

    def _check_departed(self, now: int) -> None:
        """Would `receive` answer at once? Only the rest of an empty body or the disconnect can
        be waiting; a body message is held for the app. (Not when the client asked to be told
        to send its body: uvicorn would answer "100 Continue" to a receive, inviting a body
        nobody reads.)"""
        record = self.record
        try:
            if not self.body_done and self.held is None and not _expects(self.scope):
                held = self.held = poll(self._receive)
                self.body_done = held is not None and not held.get("more_body", False)
                if held is not None and held["type"] == "http.disconnect":
                    record.disconnected_ns = now
            if self.body_done and poll(self._receive) is not None:
                record.disconnected_ns = now
        except Unpollable:
            record.departure_check = "unavailable"
            return
        record.departure_check = "polled"


def served_by() -> ServedBy:
    """Where the caller runs; marks the caller's thread as its request's handler.

    Outside a probed request it still names the process and thread, and the loop when the caller
    runs on one; what it cannot know is None.
    """
    thread = current_thread()
    record = current_record.get()
    if record is not None:
        record.handler = thread
        return record.served_by(thread)
    try:
        loop: LoopData | None = current_loop().data
    except RuntimeError:
        loop = None
    return ServedBy(os.getpid(), loop, thread, None if loop is None else False, None, None)
