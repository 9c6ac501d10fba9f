"""Each record as an OpenTelemetry span, built and exported on the writer thread.

Theory of operation
-------------------
`OtelSpans` is a sink (see `sinks.py`): it runs on the writer thread, after the request is over,
and turns each finished record into spans with explicit start and end times taken from the
record, so nothing of OpenTelemetry runs on the loop but one context read per request (below).

- the request: a span named `GET /path`, from the record's start to its end, with where it ran
  (`process.pid`, `thread.id` and `thread.name` of the handler's thread, `asgi_lab.loop.*`) and
  the tokens it found (`asgi_lab.threadpool.*`), what it waited for by cause
  (`asgi_lab.wait.pool_ms`, `.loop_ms`, `.stall_ms`, see `records/waits.py`) and its route
  (`http.route`, when the framework names one);
- each hop: a child span named after the function, from the moment it started on its thread to
  the moment it returned, with that thread's `thread.id` and `thread.name`, and the pool it went
  through (`asgi_lab.hop.pool`: "anyio", "default-executor", ..., with `.size` when known,
  `.busy`, `.queued` when it was submitted, `.processes`: a process pool's hop has no thread and
  spans from the call to the answer);
- the watchdog's findings as span events: `asgi_lab.loop_blocked` (with `code.filepath`,
  `code.lineno`, `code.function`) on the request that blocked the loop, `asgi_lab.waited_on`
  on the requests that sat through it.

Its parent, so that a request is one trace whoever else traces it: when the request arrives,
the probe reads (on the loop, one context-variable read) the span that is current there, such as
the one the OpenTelemetry ASGI middleware opened around us; our span becomes its child, of kind
INTERNAL. When none was, the app may trace itself from inside (FastAPI's own telemetry, or the
ASGI middleware inside the probe): they start their request span with no regard for ours, as a
root or a child of the caller's `traceparent`. So when the response starts, the probe reads the
current span again (inside the app's `send`, where its span is current): a local span found there
is the parent, and our span and its hops sit under the app's own request span. Only when neither
is found is a `traceparent` header the parent, and our span the request's SERVER span. We do
not add attributes to another's span: it can only be changed while it is open, on the loop, and
ours are only complete after the request ends.

Where spans go: the tracer provider you pass; with `endpoint`, a provider of our own that
exports over OTLP/HTTP to `<endpoint>/v1/traces` (one per worker process, made on its writer
thread, so forked workers never share one); otherwise the global provider.

OpenTelemetry is imported only here, and only when a sink is opened or a probe asks for
parents: `asgi_lab.probe` works without the `otel` extra.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from asgi_lab.records.schema import RecordData
from asgi_lab.types import Scope

logger = logging.getLogger("asgi_lab.probe")

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

__all__ = [
    "EXPORT_TIMEOUT",
    "INSTALL",
    "Counted",
    "OtelSpans",
    "inner_parent",
    "parent_finder",
    "require",
    "traces_url",
]

#: What to install when OpenTelemetry is missing.
INSTALL = 'pip install "asgi-lab[otel]"'
#: Seconds one OTLP export (and so a shutdown's last flush) may take before its spans are
#: counted as dropped: a collector that never answers delays a worker's exit by no more.
EXPORT_TIMEOUT = 1.0


def require(what: str) -> None:
    """Raise an ImportError saying what to install when OpenTelemetry is missing."""
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        raise ImportError(f"{what} needs OpenTelemetry: {INSTALL}") from None


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for a collector's base URL (as OTEL_EXPORTER_OTLP_ENDPOINT)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


def parent_finder() -> Callable[[Scope], Context | None]:
    """A function the probe calls on the loop for each request: the context our span will be a
    child of, or None for a root span."""
    require("ProbeMiddleware(otel=...)")
    from opentelemetry import context, propagate, trace

    get_current = context.get_current

    def parent(scope: Scope) -> Context | None:
        current = get_current()
        if trace.get_current_span(current).get_span_context().is_valid:
            return current
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name in (b"traceparent", b"tracestate")
        }
        return propagate.extract(carrier) if carrier else None

    return parent


def inner_parent() -> Callable[[object], Context | None]:
    """A function the probe calls on the loop when the response starts, with the parent read on
    arrival: the context current now when its span is a local one and none was on arrival (the
    app's own request span, see above), else None."""
    require("ProbeMiddleware(otel=...)")
    from opentelemetry import context, trace

    get_current = context.get_current
    get_span = trace.get_current_span

    def inner(arrival: object) -> Context | None:
        if arrival is not None:
            found = get_span(arrival).get_span_context()  # type: ignore[arg-type]
            if found.is_valid and not found.is_remote:
                return None  # a span outside us already holds the request
        current = get_current()
        found = get_span(current).get_span_context()
        return current if found.is_valid and not found.is_remote else None

    return inner


class OtelSpans:
    """A sink that exports every record as a span, its hops as child spans."""

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        endpoint: str | None = None,
        service_name: str | None = None,
    ) -> None:
        """Spans go to `tracer_provider`; else, with `endpoint` (a collector's base URL, such as
        `http://127.0.0.1:4318`), to a provider of ours exporting over OTLP/HTTP; else to the
        global provider. `service_name` defaults to $OTEL_SERVICE_NAME, then "asgi-lab"."""
        if tracer_provider is not None and endpoint is not None:
            raise ValueError("pass tracer_provider or endpoint, not both")
        self.tracer_provider = tracer_provider
        self.endpoint = endpoint
        self.service_name = service_name
        self._owned: TracerProvider | None = None
        self._tracer: Tracer | None = None
        #: The spans our OTLP exporter delivered and could not (with `endpoint` only).
        self.exports = Counted()

    def __repr__(self) -> str:
        where = traces_url(self.endpoint) if self.endpoint else "the tracer provider"
        return f"OpenTelemetry spans to {where}"

    def open(self) -> None:
        require("OtelSpans")
        from opentelemetry import trace

        provider: Any = self.tracer_provider
        if provider is None and self.endpoint is not None:
            provider = self._owned = self._provider(self.endpoint)
        if provider is None:
            provider = trace.get_tracer_provider()
        self._tracer = provider.get_tracer("asgi_lab")

    def _provider(self, endpoint: str) -> TracerProvider:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        attributes: dict[str, Any] = {"host.name": socket.gethostname(), "process.pid": os.getpid()}
        name = self.service_name or os.environ.get("OTEL_SERVICE_NAME")
        attributes["service.name"] = name or "asgi-lab"
        provider = TracerProvider(resource=Resource.create(attributes))
        exporter = OTLPSpanExporter(endpoint=traces_url(endpoint), timeout=EXPORT_TIMEOUT)
        provider.add_span_processor(
            BatchSpanProcessor(
                counting(exporter, self.exports), export_timeout_millis=EXPORT_TIMEOUT * 1000
            )
        )
        return provider

    def write(self, records: Sequence[RecordData]) -> None:
        for record in records:
            self.span(record)

    def span(self, data: RecordData) -> None:
        """Start and end the spans of one finished record, with the record's own times."""
        from opentelemetry.trace import SpanKind, Status, StatusCode, get_current_span

        tracer = self._tracer
        if tracer is None:
            return
        parent: Any = data.parent
        local = parent is not None and not get_current_span(parent).get_span_context().is_remote
        handler = data.handler.thread
        tokens = data.threadpool
        attributes: dict[str, Any] = {
            "http.request.method": data.method,
            "url.path": data.path,
            "http.response.status_code": data.status,
            "asgi_lab.request.id": data.id,
            "process.pid": data.pid,
            "thread.id": handler.native_id,
            "thread.name": handler.name,
            "asgi_lab.handler.in_threadpool": data.handler.in_threadpool,
            "asgi_lab.loop.id": data.loop.id,
            "asgi_lab.loop.impl": data.loop.impl,
            "asgi_lab.loop.thread.id": data.loop.thread.native_id,
            "asgi_lab.in_flight": data.in_flight,
            "asgi_lab.threadpool.borrowed": tokens.borrowed,
            "asgi_lab.threadpool.waiting": tokens.waiting,
            "asgi_lab.wait.pool_ms": data.waits.pool_ns / 1e6,
            "asgi_lab.wait.loop_ms": data.waits.loop_ns / 1e6,
            "asgi_lab.wait.stall_ms": data.waits.stall_ns / 1e6,
        }
        if data.route:
            attributes["http.route"] = data.route
        if tokens.total != float("inf"):
            attributes["asgi_lab.threadpool.total"] = int(tokens.total)
        span = tracer.start_span(
            f"{data.method} {data.path}",
            context=parent,
            kind=SpanKind.INTERNAL if local else SpanKind.SERVER,
            attributes=attributes,
            start_time=data.start_ns,
        )
        if data.error is not None or data.status >= 500:
            span.set_status(Status(StatusCode.ERROR, data.error))
        for block in data.blocks:
            span.add_event(
                "asgi_lab.loop_blocked",
                {
                    "code.filepath": block.file,
                    "code.lineno": block.line,
                    "code.function": block.function,
                    "code.stacktrace": "\n".join(f.where() for f in block.stack),
                    "asgi_lab.block.ms": block.ms,
                },
                # When the stall began; records older than `start_ns` are placed as if the
                # block ended the request.
                timestamp=block.start_ns or max(data.start_ns, data.end_ns - int(block.ms * 1e6)),
            )
        for wait in data.waited_on:
            event: dict[str, Any] = {"asgi_lab.wait.kind": wait.kind, "asgi_lab.wait.ms": wait.ms}
            if wait.request is not None:
                event["asgi_lab.wait.request"] = wait.request
            if wait.hops:
                event["asgi_lab.wait.hops"] = list(wait.hops)
            span.add_event(
                "asgi_lab.waited_on",
                event,
                timestamp=max(data.start_ns, data.end_ns - int(wait.ms * 1e6)),
            )
        from opentelemetry.trace import set_span_in_context

        context = set_span_in_context(span)
        for hop in data.hops:
            hop_attributes: dict[str, Any] = {
                "asgi_lab.hop.endpoint": hop.endpoint,
                "asgi_lab.hop.queued_ms": hop.queued_ns / 1e6,
                "asgi_lab.hop.pool": hop.pool.name,
                "asgi_lab.hop.pool.busy": hop.pool.busy,
                "asgi_lab.hop.pool.queued": hop.pool.queued,
                "asgi_lab.hop.pool.processes": hop.pool.processes,
            }
            if hop.pool.size is not None:  # an attribute cannot be None: absent when unknown
                hop_attributes["asgi_lab.hop.pool.size"] = hop.pool.size
            if hop.thread is not None:
                hop_attributes["thread.id"] = hop.thread.native_id
                hop_attributes["thread.name"] = hop.thread.name
            started = hop.start_ns or hop.called_ns
            child = tracer.start_span(
                hop.call, context=context, attributes=hop_attributes, start_time=started
            )
            if hop.thread is None and not hop.pool.processes:
                child.set_status(Status(StatusCode.ERROR, "cancelled before a thread took it"))
            child.end(end_time=max(started, hop.end_ns or data.end_ns))
        span.end(end_time=data.end_ns)

    def close(self) -> None:
        if self._owned is not None:
            self._owned.shutdown()  # flushes what the batch processor still holds
            self._owned = None
        self._tracer = None


class Counted:
    """Spans an exporter failed to deliver (a closed port, a collector that never answers),
    counted and warned about once: nothing is dropped silently."""

    def __init__(self) -> None:
        self.dropped = 0
        self.exported = 0

    def note(self, spans: int, delivered: bool) -> None:
        if delivered:
            self.exported += spans
            return
        first = self.dropped == 0
        self.dropped += spans
        if first:
            logger.warning(
                "OpenTelemetry export failed: %d spans dropped (counted in "
                "OtelSpans.exports.dropped; warned once)",
                spans,
            )


def counting(exporter: SpanExporter, counts: Counted) -> SpanExporter:
    """`exporter`, its results noted in `counts`."""
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class Counting(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            try:
                result = exporter.export(spans)
            except Exception:  # an exporter should not raise; if one does, the spans are lost
                result = SpanExportResult.FAILURE
            counts.note(len(spans), result is SpanExportResult.SUCCESS)
            return result

        def shutdown(self) -> None:
            exporter.shutdown()

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            return exporter.force_flush(timeout_millis)

    return Counting()
