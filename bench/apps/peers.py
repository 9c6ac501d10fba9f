"""The same FastAPI app bare, under the probe and its floors, and under OpenTelemetry's ASGI
middleware: one variant per server process (bench/peers.py). FastAPI's own telemetry lives in
`fastapi_telemetry.py`, a module of its own: it sets a global tracer provider, which turns
FastAPI's telemetry on for every app in a process, so no other variant may share its process.
The OpenTelemetry middleware gets its provider passed in. Both providers are the SDK's with no
exporter: what recording spans costs, not shipping them.

The apps are built at import (every server loads an attribute its own way: hypercorn reads the
module's namespace, so no lazy attribute).
"""

import fastapi
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider

from asgi_lab.probe import ProbeMiddleware
from bench.apps.endpoints import build
from bench.apps.probe_variants import least_probe_of, pass_through_of

__all__ = ["bare", "least_probe", "otel", "pass_through", "probe"]

bare = build(fastapi)
# log line, watchdog and trace come from the server's settings (the bench's variants).
probe = ProbeMiddleware(build(fastapi))
# The floors (bench/apps/probe_variants.py): any middleware that wraps `send`, and the least a
# probe of this design can do (a record, a context variable, the header, a ring).
pass_through = pass_through_of(build(fastapi))
least_probe = least_probe_of(build(fastapi))
otel = OpenTelemetryMiddleware(build(fastapi), tracer_provider=TracerProvider())
