"""Layer 2 on FastAPI itself: `api.py`'s source, built on `fastapi` instead of the wrapper.

Nothing here but the build: if an experiment's verdict differs between `--layer api` and
`--layer fastapi`, the wrapper does not dispatch as FastAPI does. Needs the `fastapi` extra.
"""

from __future__ import annotations

from asgi_lab.extras import MissingExtra

try:
    import fastapi
    from fastapi.exceptions import RequestValidationError
except ModuleNotFoundError as missing:
    if missing.name != "fastapi":
        raise
    raise MissingExtra("the fastapi layer", "lab", "fastapi") from missing

from asgi_lab.api import RING_SIZE, build
from asgi_lab.probe import ProbeMiddleware

__all__ = ["LAYER", "api", "app"]

LAYER = "fastapi"

api = build(fastapi, LAYER, RequestValidationError)

#: What `uvicorn asgi_lab.fastapi_layer:app` serves: FastAPI with the probe around it.
app = ProbeMiddleware(api, ring_size=RING_SIZE, log=True, watchdog=True)
