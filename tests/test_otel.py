"""OpenTelemetry export: each record a span with where it ran, each hop a child span timed by
its own thread, the watchdog's findings as events; built on the writer thread, never the loop."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fastapi
import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from asgi_lab.probe import ProbeMiddleware, Record
from asgi_lab.probe.otel import OtelSpans, traces_url
from asgi_lab.records import HEADER, BlockData, FrameData, HeaderData, RecordData, WaitData
from asgi_lab.types import ASGIApp, Receive, Scope, Send
from tests.cli import running, stop
from tests.test_probe import fastapi_app
from tests.test_sinks import records_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def exporter() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    yield provider, spans
    provider.shutdown()


async def serve(
    app: ASGIApp, provider: TracerProvider, *paths: str, **headers: str
) -> list[Record]:
    """`paths` requested through a probe exporting to `provider`; its records once exported."""
    probe = ProbeMiddleware(app, trace=None, otel=OtelSpans(tracer_provider=provider))
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
        for path in paths:
            assert (await client.get(path, headers=headers)).status_code == 200
    await probe.aclose()  # the writer thread has exported every span when this returns
    return list(probe.ring)


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    named = {span.name: span for span in spans}
    assert len(named) == len(spans), [s.name for s in spans]
    return named


async def test_a_request_is_a_server_span_with_where_it_ran(exporter: Any) -> None:
    provider, spans = exporter
    [record] = await serve(fastapi_app(), provider, "/sync")
    data = record.data()
    named = by_name(spans.get_finished_spans())
    calls = [hop.call for hop in data.hops]
    assert "_run_sync_endpoint" in calls and "fastapi_app.<locals>.sync_dependency" in calls
    assert set(named) == {"GET /sync", *calls}
    span = named["GET /sync"]
    assert span.kind is SpanKind.SERVER and span.parent is None
    assert (span.start_time, span.end_time) == (data.start_ns, data.end_ns)
    assert dict(span.attributes or {}) == {
        "http.request.method": "GET",
        "url.path": "/sync",
        "http.response.status_code": 200,
        "asgi_lab.request.id": data.id,
        "process.pid": os.getpid(),
        "thread.id": data.handler.thread.native_id,
        "thread.name": data.handler.thread.name,
        "asgi_lab.handler.in_threadpool": True,
        "asgi_lab.loop.id": data.loop.id,
        "asgi_lab.loop.impl": data.loop.impl,
        "asgi_lab.loop.thread.id": threading.get_native_id(),
        "asgi_lab.in_flight": 0,
        "asgi_lab.threadpool.total": int(data.threadpool.total),
        "asgi_lab.threadpool.borrowed": data.threadpool.borrowed,
        "asgi_lab.threadpool.waiting": data.threadpool.waiting,
        "asgi_lab.wait.pool_ms": data.waits.pool_ns / 1e6,
        "asgi_lab.wait.loop_ms": data.waits.loop_ns / 1e6,
        "asgi_lab.wait.stall_ms": 0.0,
        "http.route": "/sync",
    }


async def test_each_hop_is_a_child_span_timed_on_its_own_thread(exporter: Any) -> None:
    provider, spans = exporter
    [record] = await serve(fastapi_app(), provider, "/sync")
    named = by_name(spans.get_finished_spans())
    parent = named["GET /sync"].context
    assert parent is not None
    for hop in record.data().hops:
        child = named[hop.call]
        assert child.parent is not None and child.parent.span_id == parent.span_id
        assert child.context is not None and child.context.trace_id == parent.trace_id
        assert (child.start_time, child.end_time) == (hop.start_ns, hop.end_ns)
        assert hop.thread is not None
        attributes = dict(child.attributes or {})
        assert attributes["thread.id"] == hop.thread.native_id != threading.get_native_id()
        assert attributes["thread.name"] == hop.thread.name
        assert attributes["asgi_lab.hop.endpoint"] is (hop.call == "_run_sync_endpoint")
        assert attributes["asgi_lab.hop.queued_ms"] == hop.queued_ns / 1e6
        assert attributes["asgi_lab.hop.pool"] == hop.pool.name == "anyio"
        assert attributes["asgi_lab.hop.pool.size"] == hop.pool.size == 40
        assert attributes["asgi_lab.hop.pool.busy"] == hop.pool.busy
        assert attributes["asgi_lab.hop.pool.processes"] is False


async def test_an_async_endpoint_runs_on_the_loop_thread_in_its_span(exporter: Any) -> None:
    provider, spans = exporter
    await serve(fastapi_app(), provider, "/async")
    named = by_name(spans.get_finished_spans())
    attributes = dict(named["GET /async"].attributes or {})
    assert attributes["thread.id"] == attributes["asgi_lab.loop.thread.id"]
    assert attributes["asgi_lab.handler.in_threadpool"] is False
    # Its sync dependency still went to a thread: one child span, on another thread.
    assert (
        dict(named["fastapi_app.<locals>.sync_dependency"].attributes or {})["thread.id"]
        != attributes["thread.id"]
    )


async def test_a_span_already_open_around_the_probe_is_the_parent(exporter: Any) -> None:
    """What the OpenTelemetry ASGI middleware does: a span current while the app runs."""
    provider, spans = exporter
    tracer = provider.get_tracer("outer")
    inner = fastapi_app()

    async def instrumented(scope: Scope, receive: Receive, send: Send) -> None:
        with tracer.start_as_current_span("outer", kind=SpanKind.SERVER):
            await probe(scope, receive, send)

    probe = ProbeMiddleware(inner, trace=None, otel=OtelSpans(tracer_provider=provider))
    transport = httpx.ASGITransport(app=instrumented)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
        await client.get("/async")
    await probe.aclose()
    named = by_name(spans.get_finished_spans())
    outer, ours = named["outer"], named["GET /async"]
    assert ours.kind is SpanKind.INTERNAL
    assert ours.parent is not None and outer.context is not None
    assert ours.parent.span_id == outer.context.span_id and not ours.parent.is_remote


async def test_a_traceparent_header_is_the_remote_parent(exporter: Any) -> None:
    provider, spans = exporter
    trace_id, span_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    await serve(fastapi_app(), provider, "/async", traceparent=f"00-{trace_id}-{span_id}-01")
    span = by_name(spans.get_finished_spans())["GET /async"]
    assert span.kind is SpanKind.SERVER and span.parent is not None and span.parent.is_remote
    assert (span.parent.trace_id, span.parent.span_id) == (int(trace_id, 16), int(span_id, 16))


async def test_blocks_and_waits_are_events_with_the_culprit_line(exporter: Any) -> None:
    provider, spans = exporter
    culprit, bystander = await records_of(fastapi_app(), ["/async", "/async"])
    stack = (FrameData("/srv/a.py", 1, "f"), FrameData("/srv/app.py", 31, "report"))
    culprit.add_block(BlockData(120.0, "/srv/app.py", 31, "report", stack, "blocked", 1))
    bystander.add_wait(WaitData(culprit.id, 118.5, "blocked"))
    sink = OtelSpans(tracer_provider=provider)
    sink.open()
    sink.write([culprit.data(), bystander.data()])
    sink.close()
    culprit_span, bystander_span = [s for s in spans.get_finished_spans() if s.name == "GET /async"]
    [blocked] = culprit_span.events
    assert blocked.name == "asgi_lab.loop_blocked"
    assert dict(blocked.attributes or {}) == {
        "code.filepath": "/srv/app.py",
        "code.lineno": 31,
        "code.function": "report",
        "code.stacktrace": "/srv/a.py:1 in f\n/srv/app.py:31 in report",
        "asgi_lab.block.ms": 120.0,
    }
    [waited] = bystander_span.events
    assert waited.name == "asgi_lab.waited_on"
    assert dict(waited.attributes or {}) == {
        "asgi_lab.wait.kind": "blocked",
        "asgi_lab.wait.ms": 118.5,
        "asgi_lab.wait.request": culprit.id,
    }


def test_spans_are_built_on_the_writer_thread_not_the_loop() -> None:
    built: list[str] = []

    class Watching(OtelSpans):
        def span(self, record: RecordData) -> None:
            built.append(threading.current_thread().name)
            super().span(record)

    import anyio

    async def main() -> None:
        probe = ProbeMiddleware(
            fastapi_app(), trace=None, otel=Watching(tracer_provider=TracerProvider())
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=probe), base_url="http://x"
        ) as c:
            await c.get("/async")
        await probe.aclose()

    anyio.run(main)
    assert built == ["asgi-lab-sink Watching"]  # its own lane, never the loop


def test_traces_url_adds_the_otlp_path_once() -> None:
    assert traces_url("http://127.0.0.1:4318") == "http://127.0.0.1:4318/v1/traces"
    assert traces_url("http://c:4318/") == "http://c:4318/v1/traces"
    assert traces_url("http://c:4318/v1/traces") == "http://c:4318/v1/traces"


def test_the_probe_works_without_opentelemetry() -> None:
    """Without the otel extra the probe imports and serves; spans say what to install."""
    code = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None  # as if the extra were not installed\n"
        "import asgi_lab.probe, asgi_lab.probe.otel, asgi_lab.testing.plugin\n"
        "from asgi_lab.probe import ProbeMiddleware\n"
        "ProbeMiddleware(None, trace=None).start()\n"
        "try: ProbeMiddleware(None, trace=None, otel=True).start()\n"
        "except ImportError as exc: print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        'ProbeMiddleware(otel=...) needs OpenTelemetry: pip install "asgi-lab[otel]"'
    )


class Receiver:
    """A tiny OTLP/HTTP receiver on loopback: POST /v1/traces, protobuf, spans kept in order."""

    def __init__(self) -> None:
        self.spans: list[Any] = []  # opentelemetry.proto Span messages, with their resource
        self.resources: list[dict[str, Any]] = []
        self._arrived = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                receiver.take(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def take(self, body: bytes) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        request = ExportTraceServiceRequest.FromString(body)
        with self._arrived:
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(span)
                        self.resources.append(resource)
            self._arrived.notify_all()

    def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float) -> list[Any]:
        """The spans so far, once `predicate` holds for them; AssertionError after `timeout`."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: predicate(self.spans), timeout):
                raise AssertionError(f"after {timeout} s the receiver had {len(self.spans)} spans")
            return list(self.spans)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(10)


def attributes_of(span: Any) -> dict[str, Any]:
    """A protobuf span's attributes as plain values."""
    out: dict[str, Any] = {}
    for attribute in span.attributes:
        value = attribute.value
        out[attribute.key] = getattr(value, value.WhichOneof("value"))
    return out


@pytest.mark.parametrize("how", ["sink", "setting"])
async def test_spans_reach_a_collector_over_otlp_http(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Receiver() as receiver:
        if how == "sink":
            probe = ProbeMiddleware(
                fastapi_app(), trace=None, otel=OtelSpans(endpoint=receiver.url)
            )
        else:  # what every worker of `asgi-lab trace --otlp URL` does
            monkeypatch.setenv("ASGI_LAB_OTLP", receiver.url)
            probe = ProbeMiddleware(fastapi_app(), trace=None)
        transport = httpx.ASGITransport(app=probe)
        async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
            await client.get("/sync")
        await probe.aclose()  # shuts our provider down, which flushes its batch
        spans = receiver.wait_for(lambda s: len(s) >= 4, timeout=10)
    [request] = [s for s in spans if s.name == "GET /sync"]
    assert attributes_of(request)["process.pid"] == os.getpid()
    children = [s for s in spans if s.parent_span_id == request.span_id]
    assert len(children) == len(probe.ring.recent(1)[0].hops) == 3
    assert receiver.resources[0]["service.name"].string_value == "asgi-lab"


@pytest.mark.server
def test_every_worker_of_asgi_lab_trace_exports_every_request(tmp_path: Path) -> None:
    """`asgi-lab trace app --workers 2 --otlp URL`: each worker's requests arrive as spans at a
    receiver on loopback, hops as children, the blocking request with its event."""
    with Receiver() as receiver:
        args = ["trace", "tests.apps.blockers:app", "--workers", "2", "--port", "0"]
        args += ["--block-ms", "50", "--otlp", receiver.url]
        with running(*args) as (process, url):
            sent: dict[str, int] = {}  # request id -> pid, from the responses' headers
            with httpx.Client(base_url=url, timeout=30, headers={"Connection": "close"}) as client:
                # A new connection each time: the kernel spreads them over both workers.
                for _ in range(200):
                    facts = HeaderData.parse(client.get("/mw/clean").headers[HEADER])
                    sent[facts.request] = facts.pid
                    if len(set(sent.values())) == 2:
                        break
                for path in ("/cpu/clean?seconds=0.01", "/sleep/blocking"):
                    facts = HeaderData.parse(client.get(path).headers[HEADER])
                    sent[facts.request] = facts.pid
                    if path.startswith("/sleep"):
                        culprit = facts.request
            _, err = stop(process)  # lifespan shutdown flushes every exporter
        assert process.returncode == 0, err
        assert len(set(sent.values())) == 2, "the kernel gave every connection to one worker"

        def ids(spans: list[Any]) -> set[str]:
            return {attributes_of(s).get("asgi_lab.request.id", "") for s in spans}

        spans = receiver.wait_for(lambda s: set(sent) <= ids(s), timeout=30)
    requests = {
        attributes_of(s)["asgi_lab.request.id"]: s for s in spans if s.parent_span_id == b""
    }
    assert set(requests) == set(sent)
    for request, pid in sent.items():
        assert attributes_of(requests[request])["process.pid"] == pid
    resource_pids = {r["process.pid"].int_value for r in receiver.resources}
    assert resource_pids == set(sent.values())
    cpu = next(s for s in requests.values() if s.name == "GET /cpu/clean")
    children = [s for s in spans if s.parent_span_id == cpu.span_id]
    [hop] = [s for s in children if attributes_of(s)["asgi_lab.hop.endpoint"]]
    assert attributes_of(hop)["thread.id"] == attributes_of(cpu)["thread.id"]
    assert attributes_of(hop)["thread.id"] != attributes_of(cpu)["asgi_lab.loop.thread.id"]
    [blocked] = [e for e in requests[culprit].events if e.name == "asgi_lab.loop_blocked"]
    assert {a.key: a.value for a in blocked.attributes}["code.function"].string_value == (
        "sleep_blocking"
    )


def test_trace_refuses_an_otlp_url_it_cannot_send_to(capsys: pytest.CaptureFixture[str]) -> None:
    from asgi_lab.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["trace", "tests.apps.blockers:app", "--otlp", "collector:4318"])
    assert exited.value.code == 2
    assert (
        "argument --otlp: expected an http:// or https:// URL, got 'collector:4318'"
        in capsys.readouterr().err
    )


@pytest.mark.parametrize("collector", ["closed port", "never answers"])
def test_spans_a_collector_never_took_are_counted_and_shutdown_stays_bounded(
    collector: str, caplog: pytest.LogCaptureFixture
) -> None:
    import socket
    import time

    import anyio

    from asgi_lab.probe.otel import EXPORT_TIMEOUT

    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    port = listener.getsockname()[1]
    if collector == "closed port":
        listener.close()  # nothing listens there now: every connect is refused
    # Otherwise it listens and never accepts: the request is sent, no answer ever comes.
    sink = OtelSpans(endpoint=f"http://127.0.0.1:{port}")
    try:

        async def main() -> float:
            probe = ProbeMiddleware(fastapi_app(), trace=None, otel=sink)
            transport = httpx.ASGITransport(app=probe)
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
                for _ in range(3):
                    assert (await client.get("/async")).status_code == 200
            began = time.monotonic()
            await probe.aclose()
            return time.monotonic() - began

        took = anyio.run(main)
    finally:
        listener.close()
    # Each request is a span and its sync dependency a child span: six spans, none delivered.
    assert sink.exports.dropped == 6 and sink.exports.exported == 0
    assert caplog.text.count("OpenTelemetry export failed") == 1
    # The exporter's own default waits 10 s for an answer, then retries: ours gives up after
    # EXPORT_TIMEOUT, so a worker's exit is not held up for long (generous, for a busy machine).
    assert took < 4 * EXPORT_TIMEOUT


def one_trace(spans: tuple[ReadableSpan, ...]) -> ReadableSpan:
    """The one root of `spans` (a span whose parent is not among them), all in one trace."""
    assert len({s.context.trace_id for s in spans if s.context is not None}) == 1, spans
    ids = {s.context.span_id for s in spans if s.context is not None}
    [root] = [s for s in spans if s.parent is None or s.parent.span_id not in ids]
    return root


def ours(spans: tuple[ReadableSpan, ...], record: Record) -> ReadableSpan:
    """The probe's span for `record` (named as the app's may be: told by its request id)."""
    rid = record.id
    [span] = [s for s in spans if (s.attributes or {}).get("asgi_lab.request.id") == rid]
    return span


def assert_under(child: ReadableSpan, parent: ReadableSpan) -> None:
    assert child.parent is not None and parent.context is not None
    assert (child.parent.span_id, child.parent.is_remote) == (parent.context.span_id, False)


def assert_hops_under(spans: tuple[ReadableSpan, ...], record: Record, mine: ReadableSpan) -> None:
    hops = [s for s in spans if s.name in {h.call for h in record.data().hops}]
    assert len(hops) == len(record.data().hops) >= 1
    for hop in hops:
        assert_under(hop, mine)


@pytest.mark.parametrize("traceparent", [False, True])
async def test_fastapis_own_request_span_holds_the_probes(exporter: Any, traceparent: bool) -> None:
    """FastAPI's built-in telemetry starts its request span inside the probe, as a root (or the
    caller's child): the probe's span and its hops go under it, one trace per request."""
    provider, spans = exporter
    app = fastapi.FastAPI(telemetry={"tracer_provider": provider})

    @app.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    trace_id = "0af7651916cd43dd8448eb211c80319c"
    headers = {"traceparent": f"00-{trace_id}-b7ad6b7169203331-01"} if traceparent else {}
    [record] = await serve(app, provider, "/items/3", **headers)
    finished = spans.get_finished_spans()
    root = one_trace(finished)
    assert root.kind is SpanKind.SERVER and root.name == "GET /items/{item_id}"
    assert (dict(root.attributes or {}))["http.route"] == "/items/{item_id}"
    assert "asgi_lab.request.id" not in (root.attributes or {}), "FastAPI's span is the root"
    assert (root.parent is not None and root.parent.is_remote) is traceparent
    if traceparent:
        assert root.context is not None and root.context.trace_id == int(trace_id, 16)
    mine = ours(finished, record)
    assert mine.kind is SpanKind.INTERNAL
    assert_under(mine, root)
    assert_hops_under(finished, record, mine)


async def test_the_asgi_middleware_outside_the_probe_holds_its_span(exporter: Any) -> None:
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    provider, spans = exporter
    probe = ProbeMiddleware(fastapi_app(), trace=None, otel=OtelSpans(tracer_provider=provider))
    outer = OpenTelemetryMiddleware(probe, tracer_provider=provider)
    transport = httpx.ASGITransport(app=outer)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
        assert (await client.get("/sync")).status_code == 200
    await probe.aclose()
    finished = spans.get_finished_spans()
    root = one_trace(finished)
    assert root.kind is SpanKind.SERVER and "asgi_lab.request.id" not in (root.attributes or {})
    [record] = list(probe.ring)
    mine = ours(finished, record)
    assert_under(mine, root)
    assert_hops_under(finished, record, mine)


async def test_the_asgi_middleware_inside_the_probe_holds_its_span(exporter: Any) -> None:
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    provider, spans = exporter
    inner = OpenTelemetryMiddleware(fastapi_app(), tracer_provider=provider)
    [record] = await serve(inner, provider, "/sync")
    finished = spans.get_finished_spans()
    root = one_trace(finished)
    assert root.kind is SpanKind.SERVER and "asgi_lab.request.id" not in (root.attributes or {})
    mine = ours(finished, record)
    assert mine.kind is SpanKind.INTERNAL and mine.parent is not None
    # Under the middleware's request span, or the span it opens around each `send`.
    theirs = [s for s in finished if s.instrumentation_scope.name != "asgi_lab"]
    assert mine.parent.span_id in {s.context.span_id for s in theirs if s.context is not None}
    assert_hops_under(finished, record, mine)
