"""The same FastAPI app bare, under the probe, under OpenTelemetry's ASGI middleware, and with
FastAPI's own telemetry: one variant per server process, built only when the server asks for it.

FastAPI turns its telemetry on for every app in a process once a global tracer provider is set,
so only `fastapi_telemetry` sets one; the OpenTelemetry middleware gets its provider passed in.
Both providers are the SDK's with no exporter: what recording spans costs, not shipping them.
"""

from collections.abc import Callable
from typing import Any

import fastapi

from asgi_lab.probe import ProbeMiddleware
from bench.apps.endpoints import build
from bench.apps.probe_variants import least_probe_of, pass_through_of

# The variants (bare, probe, the floors, otel, fastapi_telemetry) are built on first access,
# by __getattr__.
__all__: list[str] = []

_BUILDERS: dict[str, Callable[[], Any]] = {
    "bare": lambda: build(fastapi),
    # log line, watchdog and trace come from the server's settings (the bench's variants).
    "probe": lambda: ProbeMiddleware(build(fastapi)),
    # The floors (bench/apps/probe_variants.py): any middleware that wraps `send`, and the least
    # a probe of this design can do (a record, a context variable, the header, a ring).
    "pass_through": lambda: pass_through_of(build(fastapi)),
    "least_probe": lambda: least_probe_of(build(fastapi)),
    "otel": lambda: _otel(),
    "fastapi_telemetry": lambda: _fastapi_telemetry(),
}


def _otel() -> Any:
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.sdk.trace import TracerProvider

    return OpenTelemetryMiddleware(build(fastapi), tracer_provider=TracerProvider())


def _fastapi_telemetry() -> Any:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    trace.set_tracer_provider(TracerProvider())
    return build(fastapi)


def __getattr__(name: str) -> Any:
    builder = _BUILDERS.get(name)
    if builder is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    app = builder()
    globals()[name] = app
    return app
