"""Query, header and cookie parameters declared as one pydantic model, read as FastAPI reads them.

`filters: Annotated[FilterParams, Query()]` takes each of the model's fields from the query string
under its alias, and passes every other key too, so the model's own `extra` policy decides
("forbid" turns `?tool=x` into an `extra_forbidden` error at `("query", "tool")`). Headers convert
underscores as a single `Header()` does, and errors name the header, not the field.

The plan is built once per parameter; a route without such a parameter never reaches this module.
"""

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import AliasChoices, AliasPath, BaseModel
from starlette.datastructures import Headers, ImmutableMultiDict
from starlette.requests import Request

from .annotations import is_sequence, model_of, subclass

__all__ = ["ABSENT", "ParamModel", "param_model", "read"]


@dataclasses.dataclass(frozen=True, slots=True)
class Member:
    """One field of the model: its (model key, request key) choices, first preferred."""

    name: str
    aliases: tuple[tuple[str, str], ...]
    many: bool


@dataclasses.dataclass(frozen=True, slots=True)
class ParamModel:
    """How to gather one model's input from the query, the headers or the cookies."""

    source: str
    members: tuple[Member, ...]
    # `Model | None`: absent (no field of it and nothing an open model would take) means None.
    optional: bool
    # Models with extra="allow"/"forbid" see every other key, so those keys count as present.
    open_extra: bool
    loc_by_alias: bool


def param_model(tp: Any, source: str, convert_underscores: bool) -> ParamModel | None:
    """The plan for a query/header/cookie parameter whose annotation is a model, else None."""
    model = model_of(tp)
    if model is None:
        return None
    members = []
    for name, info in model.model_fields.items():
        convert = source == "header" and convert_underscores
        members.append(
            Member(name, _aliases(model, name, info, convert), is_sequence(info.annotation))
        )
    config = model.model_config
    return ParamModel(
        source,
        tuple(members),
        optional=tp is not model,
        open_extra=config.get("extra") in ("allow", "forbid"),
        loc_by_alias=config.get("loc_by_alias", True),
    )


def _aliases(
    model: type[BaseModel], name: str, info: Any, convert: bool
) -> tuple[tuple[str, str], ...]:
    # FastAPI's _get_param_aliases: the validation alias (or alias, or name) first, then the
    # literal AliasChoices, then the field's name when the model also validates by name.
    va = info.validation_alias
    alias = va if isinstance(va, str) and va else (info.alias if info.alias is not None else name)
    request = alias.replace("_", "-") if convert and alias == name else alias
    aliases = [(alias, request)]
    if isinstance(va, AliasPath):
        return tuple(aliases)
    if isinstance(va, AliasChoices):
        if any(isinstance(choice, AliasPath) for choice in va.choices):
            return tuple(aliases)
        aliases = [(choice, choice) for choice in va.choices if isinstance(choice, str)]
    nested = subclass(info.annotation, (BaseModel, dict)) or dataclasses.is_dataclass(
        info.annotation
    )
    config: Mapping[str, Any] = {} if nested else model.model_config
    by_name = config.get("validate_by_name", config.get("populate_by_name", False))
    if config.get("validate_by_alias") is False or by_name:
        request_name = name.replace("_", "-") if convert else name
        if config.get("validate_by_alias") is False:
            return ((name, request_name),)
        if name not in [a for a, _ in aliases]:
            aliases.append((name, request_name))
    return tuple(aliases)


ABSENT: Any = object()


def read(plan: ParamModel, request: Request) -> tuple[Any, dict[str, str]]:
    """The model's input (or `ABSENT`), and the header names to report errors under."""
    received: Mapping[str, Any]
    if plan.source == "query":
        received = request.query_params
    elif plan.source == "header":
        received = request.headers
    else:
        received = request.cookies
    headers = isinstance(received, Headers)
    data: dict[str, Any] = {}
    renames: dict[str, str] = {}
    processed: set[str] = set()
    own: set[str] = set()
    for member in plan.members:
        own.update(key.lower() if headers else key for _, key in member.aliases)
        alias, key = next(
            (pair for pair in member.aliases if pair[1] in received), member.aliases[0]
        )
        value = _value(received, key, member.many)
        if value is not ABSENT:
            data[alias] = value
        if headers:
            processed.add(key.lower())
            # An unconverted field name is not an extra header either.
            processed.update(a.lower() for a, k in member.aliases if a != k)
            if alias != key:
                renames[member.name] = key
        else:
            processed.add(key)
    data.update(_extras(received, processed))
    if plan.optional and not (own.intersection(received) or (plan.open_extra and data)):
        return ABSENT, {}
    return data, renames if plan.loc_by_alias else {}


def _value(received: Mapping[str, Any], key: str, many: bool) -> Any:
    if many and isinstance(received, ImmutableMultiDict | Headers):
        value: Any = received.getlist(key)
    else:
        value = received.get(key)
    if value is None or (many and len(value) == 0):
        return ABSENT  # the model's default applies
    return value


def _extras(received: Mapping[str, Any], processed: set[str]) -> Iterator[tuple[str, Any]]:
    """Every other key, a repeated one as a list, for the model's `extra` policy to judge."""
    if isinstance(received, ImmutableMultiDict):
        items: Any = received.multi_items()
    elif isinstance(received, Headers):
        items = received.items()
    else:
        yield from ((k, v) for k, v in received.items() if k not in processed)
        return
    grouped: dict[str, list[Any]] = {}
    for key, value in items:
        if key not in processed:
            grouped.setdefault(key, []).append(value)
    for key, values in grouped.items():
        yield key, values[0] if len(values) == 1 else values
