"""The bench endpoints on FastAPI."""

import fastapi

from bench.apps.endpoints import build

app = build(fastapi)
