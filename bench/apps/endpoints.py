"""The benchmarked endpoints, written once against either `fastapi` or `asgi_lab.framework`."""

from types import ModuleType
from typing import Annotated, Any


def settings() -> dict[str, int]:
    """A sync dependency: FastAPI runs it in a worker thread, and so must the wrapper."""
    return {"scale": 2}


def build(fw: ModuleType) -> Any:
    """Async hello, def hello, and an int query parameter with a sync dependency."""
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

    return app
