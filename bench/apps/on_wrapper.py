"""The bench endpoints on asgi_lab.framework."""

import asgi_lab.framework
from bench.apps.endpoints import build

app = build(asgi_lab.framework)
