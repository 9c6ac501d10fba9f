"""The benchmarked endpoints, written once against either `fastapi` or `asgi_lab.framework`."""

from types import ModuleType
from typing import Annotated, Any


def settings() -> dict[str, int]:
    """A sync dependency: FastAPI runs it in a worker thread, and so must the wrapper."""
    return {"scale": 2}


def build(fw: ModuleType) -> Any:
    """Async hello, def hello, an int query parameter with a sync dependency, and a `def`
    endpoint with a sync dependency (two hops to a worker thread per request)."""
    app = fw.FastAPI()

    # No return annotations: with one, even `-> Any`, both frameworks validate the result (in a
    # worker thread for def endpoints), which would be a different benchmark.

    @app.get("/")
    async def hello():  # type: ignore[no-untyped-def]
        return {"hello": "world"}

    @app.get("/sync")
    def hello_sync():  # type: ignore[no-untyped-def]
        return {"hello": "world"}

    @app.get("/query")
    async def query(  # type: ignore[no-untyped-def]
        n: Annotated[int, fw.Query(ge=0)],
        conf: Annotated[dict[str, int], fw.Depends(settings)],
    ):
        return {"n": n * conf["scale"]}

    @app.get("/sync-dep")
    def sync_dep(  # type: ignore[no-untyped-def]
        conf: Annotated[dict[str, int], fw.Depends(settings)],
    ):
        return {"scale": conf["scale"]}

    return app
