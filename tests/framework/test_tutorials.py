# mypy: disable-error-code="untyped-decorator, name-defined"
"""Tutorial-style apps (written here, in the shape of FastAPI's docs) answer and hop alike.

Each app is built twice, on FastAPI and on asgi_lab.framework, wrapped in the probe, and sent the
same requests; status, body, content type and the number of threadpool hops the probe recorded
must be the same.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Annotated, Any

import fastapi
import fastapi.exception_handlers
import httpx
import pytest
from pydantic import BaseModel
from starlette.responses import HTMLResponse, PlainTextResponse, StreamingResponse

import asgi_lab.framework as ours
import asgi_lab.framework.errors
from asgi_lab.probe import ProbeMiddleware

HANDLERS = {fastapi: fastapi.exception_handlers, ours: asgi_lab.framework.errors}


class UserIn(BaseModel):
    username: str
    password: str
    email: str
    full_name: str | None = None


class UserOut(BaseModel):
    username: str
    email: str
    full_name: str | None = None


def bigger_application(fw: ModuleType) -> Any:
    def get_query_token(token: str = "jessica") -> None:
        if token != "jessica":
            raise fw.HTTPException(400, "No Jessica token provided")

    async def get_token_header(x_token: Annotated[str, fw.Header()]) -> None:
        if x_token != "fake-super-secret-token":
            raise fw.HTTPException(400, "X-Token header invalid")

    app = fw.FastAPI(dependencies=[fw.Depends(get_query_token)])
    users = fw.APIRouter()
    items = fw.APIRouter(
        prefix="/items", tags=["items"], dependencies=[fw.Depends(get_token_header)]
    )

    @users.get("/users/{username}")
    def read_user(username: str) -> Any:
        return {"username": username}

    @items.get("/{item_id}")
    async def read_item(item_id: str) -> Any:
        if item_id != "plumbus":
            raise fw.HTTPException(404, "Item not found")
        return {"item_id": item_id}

    def admin_only() -> None:
        pass

    app.include_router(users)
    app.include_router(items, prefix="/v1", dependencies=[fw.Depends(admin_only)])
    return app


def background_and_responses(fw: ModuleType) -> Any:
    log: list[str] = []
    app = fw.FastAPI()

    def write_log(message: str) -> None:
        log.append(message)

    def get_query(tasks: fw.BackgroundTasks, q: str | None = None) -> str | None:
        if q:
            tasks.add_task(write_log, f"found query: {q}")
        return q

    @app.post("/send/{email}")
    def send(
        email: str, tasks: fw.BackgroundTasks, q: Annotated[Any, fw.Depends(get_query)]
    ) -> Any:
        tasks.add_task(write_log, f"message to {email}")
        return {"message": "sent", "log": list(log)}

    @app.post("/user", response_model=UserOut)
    def create_user(user: UserIn) -> Any:
        return user

    @app.get("/user", response_model=UserOut, response_model_exclude_unset=True)
    async def read_user() -> Any:
        return {"username": "u", "email": "e@x"}

    @app.get("/user/name", response_model=UserOut, response_model_include={"username"})
    def read_name() -> Any:
        return {"username": "u", "email": "e@x"}

    @app.get("/html", response_class=HTMLResponse)
    def html() -> Any:
        return "<h1>hi</h1>"

    @app.get("/headers")
    def headers(response: fw.Response) -> Any:
        response.headers["X-Cat"] = "meow"
        response.set_cookie("fake", "cookie")
        response.status_code = 201
        return {"ok": True}

    def fake_video() -> Any:
        for i in range(3):
            yield b"frame %d\n" % i

    @app.get("/video")
    def video() -> Any:
        return StreamingResponse(fake_video(), media_type="video/mp4")

    @app.get("/plain", response_class=PlainTextResponse)
    async def plain() -> Any:
        return "just text"

    return app


def overrides_and_errors(fw: ModuleType) -> Any:
    handlers = HANDLERS[fw]

    def common(q: str | None = None, skip: int = 0) -> dict[str, Any]:
        return {"q": q, "skip": skip}

    app = fw.FastAPI()

    @app.exception_handler(fw.HTTPException)
    async def logged(request: Any, exc: Any) -> Any:
        return await handlers.http_exception_handler(request, exc)

    @app.get("/items")
    async def items(commons: Annotated[dict[str, Any], fw.Depends(common)]) -> Any:
        return {"source": "items", **commons}

    def get_db() -> Any:
        try:
            yield "db"
        except KeyError:
            raise fw.HTTPException(404, "no such key") from None

    @app.get("/key/{key}")
    def key(key: str, db: Annotated[str, fw.Depends(get_db)]) -> Any:
        return {"value": {"a": 1}[key]}

    def override(q: str | None = None) -> dict[str, Any]:
        return {"q": q, "skip": 5, "overridden": True}

    app.dependency_overrides[common] = override
    return app


def events(fw: ModuleType) -> Any:
    items: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        items["foo"] = {"name": "Fighters"}
        yield
        items.clear()

    app = fw.FastAPI(lifespan=lifespan)

    @app.get("/items/{item_id}")
    def read(item_id: str) -> Any:
        return items[item_id]

    return app


APPS: list[tuple[Callable[[ModuleType], Any], list[tuple[str, str, dict[str, Any]]]]] = [
    (
        bigger_application,
        [
            ("GET", "/users/ann", {}),
            ("GET", "/users/ann?token=bad", {}),
            ("GET", "/v1/items/plumbus", {"headers": {"x-token": "fake-super-secret-token"}}),
            ("GET", "/v1/items/other", {"headers": {"x-token": "fake-super-secret-token"}}),
            ("GET", "/v1/items/plumbus", {"headers": {"x-token": "wrong"}}),
            ("GET", "/v1/items/plumbus", {}),
            ("GET", "/items/plumbus", {}),
        ],
    ),
    (
        background_and_responses,
        [
            ("POST", "/send/a@b?q=hi", {}),
            ("POST", "/send/a@b", {}),
            ("POST", "/user", {"json": {"username": "u", "password": "p", "email": "e"}}),
            ("POST", "/user", {"json": {"username": "u"}}),
            ("GET", "/user", {}),
            ("GET", "/user/name", {}),
            ("GET", "/html", {}),
            ("GET", "/headers", {}),
            ("GET", "/video", {}),
            ("GET", "/plain", {}),
        ],
    ),
    (
        overrides_and_errors,
        [
            ("GET", "/items?q=x", {}),
            ("GET", "/items?skip=no", {}),
            ("GET", "/key/a", {}),
            ("GET", "/key/b", {}),
        ],
    ),
    (events, [("GET", "/items/foo", {})]),
]
CASES = [(build, *request) for build, requests in APPS for request in requests]


async def answer(
    fw: ModuleType, build: Callable[[ModuleType], Any], method: str, url: str, kwargs: Any
) -> dict[str, Any]:
    app = build(fw)
    probe = ProbeMiddleware(app, trace=None, headers=False)
    transport = httpx.ASGITransport(app=probe, raise_app_exceptions=False)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.request(method, url, **kwargs)
    record = probe.ring.recent(1)[0].data().to_json()
    return {
        "status": response.status_code,
        "body": response.text,
        "type": response.headers.get("content-type"),
        "cookie": response.headers.get("set-cookie"),
        "x-cat": response.headers.get("x-cat"),
        "hops": len(record["hops"]),
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("build", "method", "url", "kwargs"),
    CASES,
    ids=[f"{b.__name__} {m} {u}" for b, m, u, _ in CASES],
)
async def test_tutorial_apps_answer_and_hop_alike(
    build: Callable[[ModuleType], Any], method: str, url: str, kwargs: Any
) -> None:
    theirs = await answer(fastapi, build, method, url, kwargs)
    mine = await answer(ours, build, method, url, kwargs)
    assert mine == theirs
