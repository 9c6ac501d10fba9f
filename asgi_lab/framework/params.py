"""Markers that say where a parameter comes from: path, query, header, cookie, body or a dependency.

The public helpers (`Query(3, ge=1)`, `Depends(get_db)`) return `Any`, as FastAPI's do, so that
`q: int = Query(3)` type-checks; the objects they build are `Param` and `Dependency`.
"""

import dataclasses
from collections.abc import Callable
from typing import Any, Literal, TypedDict, Unpack

from pydantic_core import PydanticUndefined

from .concurrency import Limit

__all__ = [
    "Body",
    "Constraints",
    "Cookie",
    "Dependency",
    "Depends",
    "Header",
    "Options",
    "Param",
    "Path",
    "Query",
]


class Constraints(TypedDict, total=False):
    """The pydantic constraints a request value may carry."""

    gt: float
    ge: float
    lt: float
    le: float
    multiple_of: float
    min_length: int
    max_length: int
    pattern: str
    allow_inf_nan: bool
    # These only document the value: pydantic keeps them for the field's JSON schema.
    title: str
    description: str
    examples: list[Any]
    deprecated: bool | str


class Options(Constraints, total=False):
    """What `Query(...)` and its siblings accept: the constraints and FastAPI's OpenAPI keywords."""

    include_in_schema: bool
    openapi_examples: dict[str, Any]


def _constraints(options: Options) -> Constraints:
    # FastAPI gives these to its OpenAPI document; the wrapper serves none, so they go.
    options.pop("include_in_schema", None)
    options.pop("openapi_examples", None)
    return options


@dataclasses.dataclass(eq=False)
class Param:
    """A request value with a default and pydantic constraints, read from `source`."""

    source: str
    default: Any
    alias: str | None
    constraints: Constraints
    embed: bool = dataclasses.field(default=False, kw_only=True)
    convert_underscores: bool = dataclasses.field(default=True, kw_only=True)


@dataclasses.dataclass(eq=False)
class Dependency:
    """A parameter filled by calling another function, solved like an endpoint."""

    call: Callable[..., Any] | None
    use_cache: bool
    scope: Literal["function", "request"] | None
    # One limit per declaration: reuse the same Depends(...) to share it across routes.
    limit: Limit | None = None


def Path(
    default: Any = PydanticUndefined, *, alias: str | None = None, **c: Unpack[Options]
) -> Any:
    """A segment of the URL path, always required."""
    return Param("path", default, alias, _constraints(c))


def Query(
    default: Any = PydanticUndefined, *, alias: str | None = None, **c: Unpack[Options]
) -> Any:
    """A query-string value; a `list[...]` annotation collects every occurrence."""
    return Param("query", default, alias, _constraints(c))


def Header(
    default: Any = PydanticUndefined,
    *,
    alias: str | None = None,
    convert_underscores: bool = True,
    **c: Unpack[Options],
) -> Any:
    """A request header; `user_agent` is read from `user-agent` unless told otherwise."""
    return Param("header", default, alias, _constraints(c), convert_underscores=convert_underscores)


def Cookie(
    default: Any = PydanticUndefined, *, alias: str | None = None, **c: Unpack[Options]
) -> Any:
    """A cookie sent by the client."""
    return Param("cookie", default, alias, _constraints(c))


def Body(
    default: Any = PydanticUndefined,
    *,
    embed: bool = False,
    alias: str | None = None,
    **c: Unpack[Options],
) -> Any:
    """A value from the JSON body; `embed=True` reads it under its own name."""
    return Param("body", default, alias, _constraints(c), embed=embed)


def Depends(
    dependency: Callable[..., Any] | None = None,
    *,
    use_cache: bool = True,
    scope: Literal["function", "request"] | None = None,
    max_concurrency: int | None = None,
) -> Any:
    """Fill a parameter with what `dependency` returns (or yields), once per request by default.

    `max_concurrency=N` lets at most N calls of this declaration run at once (a `yield`
    dependency counts until its teardown ends); the others wait on the loop, not in a thread.
    """
    if max_concurrency is None:
        return Dependency(dependency, use_cache, scope)
    if type(max_concurrency) is not int or max_concurrency < 1:
        raise ValueError(
            f"max_concurrency must be a positive integer or None, not {max_concurrency!r}."
        )
    return Dependency(dependency, use_cache, scope, Limit(max_concurrency))
