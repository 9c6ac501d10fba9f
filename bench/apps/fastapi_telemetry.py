"""The bench's FastAPI app with FastAPI's own telemetry on: a global tracer provider (the SDK's,
no exporter) is set before the app is built, which is what turns it on. Import it only in a
process of its own (see peers.py)."""

import fastapi
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from bench.apps.endpoints import build

__all__ = ["app"]

trace.set_tracer_provider(TracerProvider())
app = build(fastapi)
