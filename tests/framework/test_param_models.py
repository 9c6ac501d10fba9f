"""Query, header and cookie parameter models answer on asgi_lab.framework exactly as on FastAPI."""

# The app is written once against either framework, passed in as a module: its decorators
# cannot be typed (as in parity_app.py).
# mypy: disable-error-code="untyped-decorator"

from types import ModuleType
from typing import Annotated, Any, Literal

import fastapi
import pytest
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

import asgi_lab.framework as ours

from .test_parity import answer, summary


class Filters(BaseModel):
    model_config = {"extra": "forbid"}

    limit: int = Field(100, gt=0, le=100)
    order_by: Literal["created_at", "updated_at"] = "created_at"
    tags: list[str] = []


class Loose(BaseModel):
    start: int
    end: int


class Named(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    page_size: int = Field(10, alias="size")
    kind: str = Field("any", validation_alias=AliasChoices("kind", "type"))


class Client(BaseModel):
    x_client_name: str
    x_tag: list[str] = []


class Strict(BaseModel):
    model_config = {"extra": "forbid"}

    session_id: str
    tracker: str | None = None


def build(fw: ModuleType) -> Any:
    """Each kind of parameter model, beside plain parameters whose errors come before or after."""
    app = fw.FastAPI()

    @app.get("/query/{item_id}")
    async def query(
        item_id: int,
        filters: Annotated[Filters, fw.Query()],
        q: int = 0,
        x_key: Annotated[str | None, fw.Header()] = None,
    ) -> Any:
        return {"item_id": item_id, "filters": filters, "q": q, "x_key": x_key}

    @app.get("/optional")
    def optional(span: Annotated[Loose | None, fw.Query()] = None, limit: int = 10) -> Any:
        return {"span": span, "limit": limit}

    @app.get("/named")
    async def named(params: Annotated[Named, fw.Query()]) -> Any:
        return params

    @app.get("/headers")
    async def headers(client: Annotated[Client, fw.Header()]) -> Any:
        return client

    @app.get("/raw-headers")
    async def raw_headers(client: Annotated[Client, fw.Header(convert_underscores=False)]) -> Any:
        return client

    @app.get("/cookies")
    async def cookies(c: Annotated[Strict, fw.Cookie()]) -> Any:
        return c

    def paging(filters: Annotated[Filters, fw.Query()]) -> int:
        return filters.limit

    @app.get("/in-dependency")
    def in_dependency(limit: Annotated[int, fw.Depends(paging)]) -> Any:
        return {"limit": limit}

    return app


CASES: list[tuple[str, dict[str, Any]]] = [
    ("/query/1", {}),
    ("/query/1?limit=5&order_by=updated_at&tags=a&tags=b&q=2", {}),
    ("/query/x?limit=500&order_by=nope&q=z&tool=plumbus", {}),
    ("/query/1?tags=", {}),
    ("/query/1?limit=", {"headers": {"x-key": "k"}}),
    ("/optional", {}),
    ("/optional?limit=3", {}),
    ("/optional?start=1&end=2", {}),
    ("/optional?start=1", {}),
    ("/optional?end=x&other=1", {}),
    ("/optional?start=a&end=2&limit=x", {}),
    ("/named", {}),
    ("/named?size=5&type=t", {}),
    ("/named?page_size=7&kind=k", {}),
    ("/named?size=x&page_size=y", {}),
    ("/headers", {}),
    ("/headers", {"headers": [("x-client-name", "n"), ("x-tag", "1"), ("x-tag", "2")]}),
    ("/headers", {"headers": {"x_client_name": "underscore is not hyphen"}}),
    ("/raw-headers", {"headers": {"x_client_name": "n"}}),
    ("/raw-headers", {"headers": {"x-client-name": "n"}}),
    ("/cookies", {}),
    ("/cookies", {"headers": {"cookie": "session_id=s; tracker=t"}}),
    ("/cookies", {"headers": {"cookie": "session_id=s; tool=plumbus"}}),
    ("/in-dependency?limit=7", {}),
    ("/in-dependency?limit=0&extra=1", {}),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("url", "kwargs"), CASES, ids=[url for url, _ in CASES])
async def test_same_answer(url: str, kwargs: dict[str, Any]) -> None:
    expected = summary(await answer(build(fastapi), "GET", url, kwargs))
    got = summary(await answer(build(ours), "GET", url, kwargs))
    assert got == expected


def test_only_the_function_that_declares_one_has_one() -> None:
    """Plain parameters, and functions without a model, never reach the model reader."""
    app = build(ours)
    route = next(r for r in app.routes if getattr(r, "path", "") == "/in-dependency")
    (paging,) = route.dependant.dependencies
    assert route.dependant.groups == []
    assert [field.name for field, _ in paging.groups] == ["filters"]
    assert paging.fields == []
