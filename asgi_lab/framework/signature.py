"""Read a function's signature once, at registration, into a plan of where each argument comes from.

A `Dependant` is one function of the tree (the endpoint or a dependency): its sub-dependencies in
signature order, the request values it takes, and one pydantic model that validates them all at
once. Nothing here runs per request; `solve.py` walks the plan.
"""

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, Field, create_model
from starlette.background import BackgroundTasks
from starlette.requests import HTTPConnection
from starlette.responses import Response

from .annotations import is_complex, is_sequence, subclass
from .concurrency import Limit
from .param_models import ParamModel, param_model
from .params import Dependency, Param

__all__ = [
    "Dependant",
    "RequestField",
    "build_dependant",
    "build_route_dependant",
    "kind_of",
    "override",
]

Kind = Literal["async", "sync", "async_gen", "gen"]
# FastAPI groups a dependant's request values in this order, and reports errors in it.
_SOURCES = ("path", "query", "header", "cookie", "body")


@dataclasses.dataclass(slots=True)
class RequestField:
    """One request value: `key` in the validator model, `alias` in the request, `loc` in errors."""

    key: str
    name: str
    source: str
    alias: str
    many: bool
    embed: bool
    loc: tuple[str, ...]


@dataclasses.dataclass(slots=True, eq=False)
class Dependant:
    """One function of the dependency tree and everything needed to call it."""

    call: Callable[..., Any]
    kind: Kind
    name: str | None = None
    use_cache: bool = True
    scope: str | None = None
    dependencies: list["Dependant"] = dataclasses.field(default_factory=list)
    fields: list[RequestField] = dataclasses.field(default_factory=list)
    # Parameter models, kept apart so that a dependant without one never checks for them.
    groups: list[tuple[RequestField, ParamModel]] = dataclasses.field(default_factory=list)
    model: type[BaseModel] | None = None
    request_name: str | None = None
    # Parameters filled with the request's shared BackgroundTasks and its header/cookie Response.
    background_name: str | None = None
    response_name: str | None = None
    limit: Limit | None = None
    path_params: frozenset[str] = frozenset()
    # Plans for the functions that `app.dependency_overrides` put in this one's place.
    overridden: dict[Callable[..., Any], "Dependant"] = dataclasses.field(default_factory=dict)
    embed_body: bool = False
    by_key: dict[str, RequestField] = dataclasses.field(default_factory=dict)
    # FastAPI caches a value per callable and per teardown scope.
    cache_key: tuple[Any, str] = ("", "")
    # Whether solving it does anything: dependencies, request values or the request itself.
    takes: bool = True

    def walk(self) -> list["Dependant"]:
        """This dependant and all below it, depth first."""
        return [self, *(d for sub in self.dependencies for d in sub.walk())]


def kind_of(call: Callable[..., Any]) -> Kind:
    """How FastAPI runs `call`: on the loop, in a thread, or as a context manager of either."""
    if inspect.isclass(call):
        return "sync"
    fn = call if inspect.isroutine(call) else getattr(call, "__call__", call)  # noqa: B004
    if inspect.isasyncgenfunction(fn):
        return "async_gen"
    if inspect.isgeneratorfunction(fn):
        return "gen"
    return "async" if inspect.iscoroutinefunction(fn) else "sync"


def build_dependant(
    call: Callable[..., Any],
    path_params: set[str],
    name: str | None = None,
    use_cache: bool = True,
    scope: str | None = None,
    limit: Limit | None = None,
) -> Dependant:
    """Analyse `call`'s signature (and its dependencies', recursively) into a `Dependant`."""
    dependant = Dependant(call, kind_of(call), name, use_cache, scope, limit=limit)
    dependant.path_params = frozenset(path_params)
    teardown = "request" if dependant.kind in ("gen", "async_gen") else ""
    dependant.cache_key = (call, scope or teardown)
    model_fields: dict[str, Any] = {}
    found: list[tuple[RequestField, Any, ParamModel | None]] = []
    for param in inspect.signature(call, eval_str=True).parameters.values():
        tp, marker, default = _split(param)
        if isinstance(marker, Dependency):
            sub_call = marker.call if marker.call is not None else tp
            dependant.dependencies.append(_sub_dependant(marker, sub_call, path_params, param.name))
            continue
        if marker is None and subclass(tp, HTTPConnection):
            dependant.request_name = param.name
            continue
        if marker is None and subclass(tp, BackgroundTasks):
            dependant.background_name = param.name
            continue
        if marker is None and subclass(tp, Response):
            dependant.response_name = param.name
            continue
        if marker is None:
            if param.name in path_params:
                source = "path"
            else:
                source = "body" if is_complex(tp) else "query"
            marker = Param(source, default, None, {})
        if param.name in path_params and marker.source != "path":
            raise TypeError(
                f"Parameter {param.name!r} of {call!r} is in the path, not the {marker.source}."
            )
        alias = marker.alias or param.name
        if marker.source == "header" and marker.convert_underscores and not marker.alias:
            alias = param.name.replace("_", "-")
        many = marker.source in ("query", "header") and is_sequence(tp)
        field = RequestField(
            f"p{len(found)}", param.name, marker.source, alias, many, marker.embed, ()
        )
        plan = None
        if marker.source in ("query", "header", "cookie"):
            # `Annotated[FilterParams, Query()]`: the model's fields are the request values.
            plan = param_model(tp, marker.source, marker.convert_underscores)
        found.append((field, (tp, Field(default, **marker.constraints)), plan))
    found.sort(key=lambda pair: _SOURCES.index(pair[0].source))
    for field, spec, plan in found:
        if plan is None:
            field.loc = (field.source, field.alias)
            dependant.fields.append(field)
        else:
            field.loc = (field.source,)
            dependant.groups.append((field, plan))
        dependant.by_key[field.key] = field
        model_fields[field.key] = spec
    if model_fields:
        label = getattr(call, "__name__", type(call).__name__)
        dependant.model = create_model(f"Params_{label}", **model_fields)
    dependant.takes = bool(
        dependant.dependencies
        or model_fields
        or dependant.request_name
        or dependant.background_name
        or dependant.response_name
    )
    return dependant


def override(dependant: Dependant, call: Callable[..., Any]) -> Dependant:
    """The plan for `call` standing in for `dependant`: its name, cache, scope and limit."""
    found = dependant.overridden.get(call)
    if found is None:
        found = build_dependant(
            call,
            set(dependant.path_params),
            dependant.name,
            dependant.use_cache,
            dependant.scope,
            dependant.limit,
        )
        found.cache_key = dependant.cache_key
        for each in found.walk():
            each.embed_body = dependant.embed_body
            for field in each.fields:
                if field.source == "body" and not each.embed_body:
                    field.loc = ("body",)
        dependant.overridden[call] = found
    return found


def _sub_dependant(
    marker: Dependency, call: Callable[..., Any], path_params: set[str], name: str | None
) -> Dependant:
    return build_dependant(call, path_params, name, marker.use_cache, marker.scope, marker.limit)


def build_route_dependant(
    endpoint: Callable[..., Any], path_params: set[str], dependencies: Sequence[Dependency]
) -> Dependant:
    """The endpoint's plan, with `dependencies=[...]` (app's, routers', route's) solved first.

    Those run, and hop to threads, like any dependency, but fill no parameter.
    """
    dependant = build_dependant(endpoint, path_params)
    extra = []
    for marker in dependencies:
        if marker.call is None:
            raise TypeError(f"A route dependency needs a callable: Depends(...), not {marker!r}.")
        extra.append(_sub_dependant(marker, marker.call, path_params, None))
    if extra:
        dependant.dependencies[:0] = extra
        dependant.takes = True
    return dependant


def _split(param: inspect.Parameter) -> tuple[Any, Param | Dependency | None, Any]:
    """The bare annotation, the marker (from `Annotated` or the default) and the real default."""
    tp: Any = Any if param.annotation is inspect.Parameter.empty else param.annotation
    default: Any = ... if param.default is inspect.Parameter.empty else param.default
    marker: Param | Dependency | None = None
    if get_origin(tp) is Annotated:
        bare, *extras = get_args(tp)
        markers = [m for m in extras if isinstance(m, Param | Dependency)]
        others = [m for m in extras if not isinstance(m, Param | Dependency)]
        marker = markers[-1] if markers else None
        # Keep validators such as AfterValidator; only our markers leave the annotation.
        tp = Annotated[bare, *others] if others else bare
    if isinstance(default, Param | Dependency):
        marker, default = default, (default.default if isinstance(default, Param) else ...)
    return tp, marker, default


def mark_body(root: Dependant) -> None:
    """Decide, as FastAPI does for the whole route, whether body values sit under their names."""
    body = [f for d in root.walk() for f in d.fields if f.source == "body"]
    embed = len({f.name for f in body}) > 1 or bool(body and body[0].embed)
    for dependant in root.walk():
        dependant.embed_body = embed
        for field in dependant.fields:
            if field.source == "body" and not embed:
                field.loc = ("body",)
