"""What a parameter's annotation says about where its value comes from, as FastAPI reads it."""

import dataclasses
from collections.abc import Mapping, Sequence
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

__all__ = ["is_complex", "is_sequence", "model_of", "subclass"]


def subclass(cls: Any, bases: type | tuple[type, ...]) -> bool:
    """`issubclass` that answers False for what is not a class (`list[int]`, `Any`)."""
    return isinstance(cls, type) and issubclass(cls, bases)


def is_sequence(tp: Any) -> bool:
    """Whether the value is many: a query or header of this type collects every occurrence."""
    origin = get_origin(tp)
    if origin is Annotated:
        return is_sequence(get_args(tp)[0])
    if origin is Union or origin is UnionType:
        return any(is_sequence(arg) for arg in get_args(tp))
    cls = origin or tp
    text = subclass(cls, (str, bytes))
    return subclass(cls, (list, set, frozenset, tuple, Sequence)) and not text


def is_complex(tp: Any) -> bool:
    """Whether an unmarked parameter is read from the body (models, mappings, sequences...)."""
    origin = get_origin(tp)
    if origin is Union or origin is UnionType:
        return any(is_complex(arg) for arg in get_args(tp))
    if origin is Annotated:
        return is_complex(get_args(tp)[0])
    cls = origin or tp
    return is_sequence(tp) or subclass(cls, (BaseModel, Mapping)) or dataclasses.is_dataclass(cls)


def model_of(tp: Any) -> type[BaseModel] | None:
    """`Model` for `Model` or `Model | None`: a query/header/cookie model parameter."""
    if get_origin(tp) in (Union, UnionType):
        args = get_args(tp)
        if len(args) == 2 and type(None) in args:
            tp = next(arg for arg in args if arg is not type(None))
    return tp if subclass(tp, BaseModel) else None
