"""Turn what an endpoint returned into JSON: bytes for the response, or plain data for users.

`to_json` is the hot path: json.dumps writes plain dicts and lists itself and asks `_fallback`
only for the rest. `jsonable_encoder` is FastAPI's public helper, which returns the plain data.
"""

import dataclasses
import datetime
import decimal
import enum
import inspect
import json
import uuid
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel

__all__ = ["jsonable_encoder", "to_json"]


def _fallback(value: Any) -> Any:
    # json.dumps calls this only for what it cannot write itself, so plain data costs nothing here;
    # the conversions follow FastAPI's jsonable_encoder.
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, uuid.UUID | PurePath):
        return str(value)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"Cannot serialise {type(value).__name__} {value!r} to JSON.")


# Built once: json.dumps with options builds a new encoder on every call.
_encoder = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_fallback
)


def to_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, as Starlette's JSONResponse writes it; NaN and infinity are errors."""
    if isinstance(value, BaseModel):
        return value.model_dump_json(by_alias=True).encode()
    return _encoder.encode(value).encode()


def jsonable_encoder(
    obj: Any,
    include: Any = None,
    exclude: Any = None,
    by_alias: bool = True,
    exclude_unset: bool = False,
    exclude_defaults: bool = False,
    exclude_none: bool = False,
) -> Any:
    """`obj` as data `json.dumps` can write: dicts, lists, strings, numbers, booleans and None."""
    if isinstance(obj, BaseModel):
        data = obj.model_dump(
            mode="json",
            include=include,
            exclude=exclude,
            by_alias=by_alias,
            exclude_unset=exclude_unset,
            exclude_defaults=exclude_defaults,
            exclude_none=exclude_none,
        )
        return jsonable_encoder(data, exclude_none=exclude_none)
    if isinstance(obj, str | int | float | type(None)):
        return obj
    if isinstance(obj, dict):
        return {
            jsonable_encoder(key): jsonable_encoder(
                value, by_alias=by_alias, exclude_none=exclude_none
            )
            for key, value in obj.items()
            if not (exclude_none and value is None)
            and (include is None or key in include)
            and (exclude is None or key not in exclude)
        }
    if isinstance(obj, list | set | frozenset | tuple) or inspect.isgenerator(obj):
        return [
            jsonable_encoder(item, by_alias=by_alias, exclude_none=exclude_none) for item in obj
        ]
    try:
        plain = _fallback(obj)
    except TypeError:
        plain = dict(obj) if hasattr(obj, "keys") else vars(obj)
    return jsonable_encoder(plain, by_alias=by_alias, exclude_none=exclude_none)
