"""One small app, written once against either `fastapi` or `asgi_lab.framework`."""

import dataclasses
import threading
from types import ModuleType
from typing import Annotated, Any

from pydantic import BaseModel
from starlette.responses import JSONResponse, StreamingResponse  # fastapi: fastapi.responses


class Item(BaseModel):
    name: str
    price: float = 0.0
    tags: list[str] = []


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Teapot(Exception):
    pass


def build(fw: ModuleType, log: list[tuple[str, int]] | None = None) -> Any:
    """The app under test; `log` collects (event, native thread id) for the dispatch routes."""
    events = log if log is not None else []

    def note(event: str) -> None:
        events.append((event, threading.get_native_id()))

    app = fw.FastAPI()
    router = fw.APIRouter(prefix="/users")

    # Parameters from every source.
    @app.get("/items/{item_id}")
    async def read_item(
        item_id: int,
        q: Annotated[int, fw.Query(ge=1, le=10)] = 3,
        name: str | None = None,
        tags: Annotated[list[int] | None, fw.Query()] = None,
    ) -> Any:
        return {"item_id": item_id, "q": q, "name": name, "tags": tags}

    @app.get("/legacy")
    def legacy(
        seconds: float = fw.Query(..., gt=0, lt=5),
        code: str = fw.Query("ab", min_length=2, max_length=4, pattern="^[a-z]+$"),
    ) -> Any:
        return {"seconds": seconds, "code": code}

    # Keywords that only document a value (FastAPI puts them in its OpenAPI document).
    @app.get("/documented")
    async def documented(
        q: Annotated[
            str | None,
            fw.Query(
                include_in_schema=False,
                openapi_examples={"one": {"value": "x"}},
                title="Q",
                description="A documented value",
                examples=["x"],
                deprecated=True,
                max_length=3,
            ),
        ] = None,
    ) -> Any:
        return {"q": q}

    @app.get("/headers")
    async def headers(
        x_token: Annotated[str, fw.Header()],
        user_agent: Annotated[str | None, fw.Header()] = None,
        x_multi: Annotated[list[str] | None, fw.Header()] = None,
        session: Annotated[str | None, fw.Cookie()] = None,
    ) -> Any:
        return {"x_token": x_token, "ua": user_agent, "multi": x_multi, "session": session}

    # Bodies: one model, embedded, several, and a body with query and path values.
    @app.post("/items", status_code=fw.status.HTTP_201_CREATED)
    def create_item(item: Item) -> Any:
        return item

    @app.put("/items/{item_id}")
    async def replace_item(item_id: int, item: Annotated[Item, fw.Body(embed=True)]) -> Any:
        return {"item_id": item_id, "item": item}

    @app.patch("/several")
    async def several(item: Item, importance: Annotated[int, fw.Body(gt=0)], note: str) -> Any:
        return {"item": item, "importance": importance, "note": note}

    # Return values.
    @app.get("/model")
    async def model() -> Any:
        return Item(name="m", price=1.5, tags=["a"])

    @app.get("/dataclass")
    def dataclass() -> Any:
        return [Point(1, 2), {"p": Point(3, 4)}]

    @app.get("/annotated")
    def annotated() -> Item:
        return {"name": "from dict", "price": "2"}  # type: ignore[return-value]

    @app.delete("/items/{item_id}", status_code=204)
    async def delete_item(item_id: int) -> None:
        return None

    @app.get("/response")
    async def response() -> Any:
        return JSONResponse({"raw": True}, status_code=202, headers={"x-raw": "1"})

    @app.get("/request/{tail}")
    async def request_info(request: fw.Request, tail: str) -> Any:  # type: ignore[name-defined]
        return {"path": request.url.path, "tail": tail}

    # Errors.
    @app.get("/fail/{code}")
    async def fail(code: int) -> Any:
        if code == 418:
            raise Teapot()
        raise fw.HTTPException(code, detail={"code": code}, headers={"x-error": "yes"})

    @app.exception_handler(Teapot)
    async def teapot(request: Any, exc: Teapot) -> Any:
        return JSONResponse({"teapot": True}, status_code=418)

    # Dependencies: sub-dependencies, caching per request, use_cache=False.
    calls = {"common": 0}

    def common(limit: int = 10) -> dict[str, int]:
        calls["common"] += 1
        return {"limit": limit, "calls": calls["common"]}

    async def first(c: Annotated[dict[str, int], fw.Depends(common)]) -> int:
        return c["calls"]

    def second(c: Annotated[dict[str, int], fw.Depends(common)], x_key: str = fw.Header()) -> Any:
        return {"calls": c["calls"], "key": x_key}

    @app.get("/deps")
    async def deps(
        a: Annotated[int, fw.Depends(first)],
        b: Annotated[Any, fw.Depends(second)],
        again: dict[str, int] = fw.Depends(common),  # noqa: B008
        fresh: dict[str, int] = fw.Depends(common, use_cache=False),  # noqa: B008
    ) -> Any:
        return {"a": a, "b": b, "again": again, "fresh": fresh["calls"] - again["calls"]}

    # A router included under a prefix.
    @router.get("/{user_id}")
    async def read_user(user_id: str) -> Any:
        return {"user_id": user_id}

    app.include_router(router, prefix="/v1")

    # Dispatch: every kind of function, recording where it ran.
    async def d_async() -> str:
        note("dep async")
        return "a"

    def d_sync() -> str:
        note("dep sync")
        return "s"

    async def d_async_gen() -> Any:
        note("dep async gen setup")
        yield "ag"
        note("dep async gen teardown")

    def d_gen() -> Any:
        note("dep gen setup")
        yield "g"
        note("dep gen teardown")

    def d_gen_function_scope() -> Any:
        note("dep gen(function) setup")
        yield "gf"
        note("dep gen(function) teardown")

    all_kinds = {
        "a": fw.Depends(d_async),
        "s": fw.Depends(d_sync),
        "ag": fw.Depends(d_async_gen),
        "g": fw.Depends(d_gen),
        "gf": fw.Depends(d_gen_function_scope, scope="function"),
    }

    @app.get("/dispatch/async")
    async def dispatch_async(
        a: str = all_kinds["a"],
        s: str = all_kinds["s"],
        ag: str = all_kinds["ag"],
        g: str = all_kinds["g"],
        gf: str = all_kinds["gf"],
    ) -> Any:
        note("endpoint async")
        return [a, s, ag, g, gf]

    @app.get("/dispatch/sync")
    def dispatch_sync(
        a: str = all_kinds["a"],
        s: str = all_kinds["s"],
        ag: str = all_kinds["ag"],
        g: str = all_kinds["g"],
        gf: str = all_kinds["gf"],
    ) -> Any:
        note("endpoint sync")
        return [a, s, ag, g, gf]

    @app.get("/dispatch/annotated")
    def dispatch_annotated() -> dict[str, str]:
        note("endpoint sync annotated")
        return {"ok": "yes"}

    @app.get("/dispatch/fail")
    async def dispatch_fail(g: str = all_kinds["g"]) -> Any:
        note("endpoint raises")
        raise fw.HTTPException(409, "conflict")

    # Dispatch of the rest of FastAPI: background tasks, streams, response validation, router and
    # include dependencies, overrides, limits, and an error thrown into a yield dependency.
    def task_sync(word: str) -> None:
        note(f"task sync {word}")

    async def task_async(word: str) -> None:
        note(f"task async {word}")

    @app.get("/dispatch/background", response_model=None)
    def dispatch_background(tasks: fw.BackgroundTasks, g: str = all_kinds["g"]) -> Any:  # type: ignore[name-defined]
        note("endpoint sync")
        tasks.add_task(task_sync, "one")
        tasks.add_task(task_async, "two")
        return {"queued": 2}

    def chunks() -> Any:
        for i in range(3):
            note(f"chunk {i}")
            yield f"chunk {i};"

    @app.get("/dispatch/stream", response_model=None)
    def dispatch_stream() -> Any:
        note("endpoint sync")
        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/dispatch/jsonl")
    def dispatch_jsonl() -> Any:
        for i in range(2):
            note(f"item {i}")
            yield {"i": i}

    @app.get("/dispatch/validated", response_model=Item, response_model_exclude_unset=True)
    def dispatch_validated() -> Any:
        note("endpoint sync")
        return {"name": "v", "price": "3"}

    @app.get("/dispatch/invalid", response_model=Item)
    def dispatch_invalid() -> Any:
        note("endpoint sync")
        return {"price": "free"}

    router_kinds = fw.APIRouter(prefix="/dispatch/router", dependencies=[all_kinds["s"]])

    @router_kinds.get("/deps", dependencies=[all_kinds["g"]])
    async def dispatch_router(a: str = all_kinds["a"]) -> Any:
        note("endpoint async")
        return a

    app.include_router(router_kinds, dependencies=[all_kinds["ag"]])

    async def d_original() -> str:
        note("dep original")
        return "original"

    def d_override(limit: int = 1) -> str:
        note("dep override")
        return f"override {limit}"

    app.dependency_overrides[d_original] = d_override

    @app.get("/dispatch/override")
    async def dispatch_override(value: Annotated[str, fw.Depends(d_original)]) -> Any:
        note("endpoint async")
        return value

    @app.get("/dispatch/limited")
    def dispatch_limited(
        s: Annotated[str, fw.Depends(d_sync, max_concurrency=1)],
        g: Annotated[str, fw.Depends(d_gen, max_concurrency=2)],
    ) -> Any:
        note("endpoint sync")
        return [s, g]

    def d_gen_catching() -> Any:
        note("dep gen setup")
        try:
            yield "g"
        except Teapot:
            note("dep gen caught")
            raise fw.HTTPException(418, "caught in the dependency") from None

    @app.get("/dispatch/yield-error", response_model=None)
    def dispatch_yield_error(g: Annotated[str, fw.Depends(d_gen_catching)]) -> Any:
        note("endpoint raises")
        raise Teapot()

    async def mark_sent(scope: Any, receive: Any, send: Any) -> None:
        async def sending(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                note("response sent")

        await inner(scope, receive, sending)

    # A pure ASGI wrapper around either app marks when the response has gone out.
    inner = app
    return mark_sent if log is not None else app


def swallowing(fw: ModuleType) -> Any:
    """A yield dependency that catches the endpoint's exception and does not raise again."""
    app = fw.FastAPI()

    def quiet() -> Any:
        try:
            yield "g"
        except Teapot:
            pass

    @app.get("/swallowed")
    def swallowed(g: Annotated[str, fw.Depends(quiet)]) -> Any:
        raise Teapot()

    return app
