"""Turn what an endpoint returned into JSON bytes, without walking plain dicts and lists twice."""

import dataclasses
import datetime
import decimal
import enum
import json
import uuid
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel

__all__ = ["to_json"]


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
