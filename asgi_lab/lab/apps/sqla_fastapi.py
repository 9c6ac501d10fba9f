"""The sqlalchemy experiment's app on FastAPI itself: `sqla.py`'s source, built on `fastapi`.

Nothing here but the build, as in `asgi_lab/fastapi_layer.py`: if a verdict differs between the
two, the wrapper does not dispatch a SQLAlchemy app as FastAPI does. Needs the `fastapi` extra.
"""

from __future__ import annotations

from asgi_lab.extras import MissingExtra

try:
    import fastapi
except ModuleNotFoundError as missing:
    if missing.name != "fastapi":
        raise
    raise MissingExtra("the sqlalchemy app on FastAPI", "lab", "fastapi") from missing

from asgi_lab.lab.apps.sqla import build
from asgi_lab.probe import ProbeMiddleware

__all__ = ["api", "app"]

api = build(fastapi)

#: What `uvicorn asgi_lab.lab.apps.sqla_fastapi:app` serves: FastAPI with the probe around it.
app = ProbeMiddleware(api)
