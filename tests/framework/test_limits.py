# mypy: disable-error-code="untyped-decorator, name-defined"
"""`Depends(..., max_concurrency=N)` lets N calls of a dependency run at once, as in FastAPI.

Each call notes how many calls are running; six requests at once, a limit of two: the most seen
running together is two on both frameworks, and six without the limit.
"""

import threading
import time
from types import ModuleType
from typing import Annotated, Any

import anyio
import fastapi
import httpx
import pytest

import asgi_lab.framework as ours


def build(fw: ModuleType, limit: int | None, peak: list[int]) -> Any:
    lock = threading.Lock()
    running = [0]

    def open_connection() -> str:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return "conn"

    def open_session() -> Any:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        yield "session"
        time.sleep(0.05)  # held until the teardown ends
        with lock:
            running[0] -= 1

    app = fw.FastAPI()
    Conn = Annotated[str, fw.Depends(open_connection, max_concurrency=limit)]
    Session = Annotated[str, fw.Depends(open_session, max_concurrency=limit)]

    @app.get("/conn")
    def conn(c: Conn) -> Any:
        return c

    @app.get("/session")
    async def session(s: Session) -> Any:
        return s

    return app


async def peak_of(fw: ModuleType, limit: int | None, path: str) -> int:
    peak = [0]
    transport = httpx.ASGITransport(app=build(fw, limit, peak))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(client.get, path)
    return peak[0]


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/conn", "/session"])
@pytest.mark.parametrize(("limit", "expected"), [(2, 2), (None, 6)])
async def test_at_most_the_limit_run_at_once(path: str, limit: int | None, expected: int) -> None:
    with anyio.fail_after(10):
        assert await peak_of(fastapi, limit, path) == expected
        assert await peak_of(ours, limit, path) == expected


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2"])
def test_the_limit_is_a_positive_integer(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_concurrency"):
        fastapi.Depends(lambda: None, max_concurrency=bad)
    with pytest.raises(ValueError, match="max_concurrency"):
        ours.Depends(lambda: None, max_concurrency=bad)
