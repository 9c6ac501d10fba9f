"""Reading what a request asks for: bounded numbers from the query, and bodies up to a size.

Every layer reads its inputs here, so all three accept and refuse the same values with the same
FastAPI-shaped 422 (`BadInput`) or 413 (`BodyTooLarge`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from asgi_lab.settings import Settings
from asgi_lab.types import Receive

__all__ = [
    "BadInput",
    "BodyTooLarge",
    "Echoed",
    "bounded_query",
    "declared_length",
    "milliseconds",
    "read_body",
    "record_limit",
    "seconds",
    "shown",
]

#: The most characters of a bad value an error echoes; a longer one is cut and marked.
SHOWN_CHARS = 64


def shown(value: Any) -> Any:
    """A value as an error may echo it: strings over `SHOWN_CHARS` cut, with a marker saying
    how long they were, so a 60 KB query value is not sent back (twice) in a 422."""
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        return f"{value[:SHOWN_CHARS]}...[{len(value)} characters]"
    return value


class BadInput(ValueError):
    """A request value out of its expected form; every layer answers it with a 422."""

    def __init__(self, loc: tuple[str, str], kind: str, value: Any, expected: str) -> None:
        self.loc = loc
        self.kind = kind
        self.value = shown(value)
        self.expected = expected
        got = "nothing" if value is None else repr(self.value)
        super().__init__(f"{loc[1]} must be {expected}, got {got}")

    def detail(self) -> dict[str, Any]:
        """The error in FastAPI's shape, so all three layers answer bad input alike."""
        return {
            "detail": [
                {"type": self.kind, "loc": list(self.loc), "msg": str(self), "input": self.value}
            ]
        }


N = TypeVar("N", int, float)


def bounded_query(raw: str | None, name: str, low: N, high: N, parse: Callable[[str], N]) -> N:
    """A query parameter that must be a number (`parse` is `int` or `float`) from `low` to
    `high`; anything else is a `BadInput` naming the parameter, the value and the form."""
    whole = parse is int
    shown = f"{low} to {high}" if whole else f"{low:g} to {high:g}"
    expected = f"a {'whole ' if whole else ''}number from {shown}"
    loc = ("query", name)
    if raw is None:
        raise BadInput(loc, "missing", None, expected)
    try:
        # ASCII only: int() and float() also take other scripts' digits, such as '١'.
        if not raw.isascii():
            raise ValueError(raw)
        value = parse(raw)
    except ValueError:
        raise BadInput(loc, "int_parsing" if whole else "float_parsing", raw, expected) from None
    if not math.isfinite(value):
        raise BadInput(loc, "finite_number", raw, expected)
    if value < low:
        raise BadInput(loc, "greater_than_equal", raw, expected)
    if value > high:
        raise BadInput(loc, "less_than_equal", raw, expected)
    return value


def seconds(raw: str | None, settings: Settings) -> float:
    """The `seconds` query parameter: a finite number from 0 to the cap."""
    return bounded_query(raw, "seconds", 0.0, settings.max_seconds, float)


def milliseconds(raw: str | None, settings: Settings) -> int:
    """The `ms` query parameter: a whole number of milliseconds from 0 to the cap."""
    return bounded_query(raw, "ms", 0, settings.max_ms, int)


def record_limit(raw: str | None, ring_size: int) -> int:
    """The `limit` of `/_lab/records`: how many recent records, 1 to the ring's size."""
    if raw is None:
        return min(100, ring_size)
    return bounded_query(raw, "limit", 1, ring_size, int)


def declared_length(headers: Mapping[str, str] | list[tuple[bytes, bytes]]) -> int | None:
    """The content-length a client declared, or None when absent or unreadable."""
    if isinstance(headers, list):
        raw = next((v.decode("latin-1") for k, v in headers if k == b"content-length"), None)
    else:
        raw = headers.get("content-length")
    # isdigit() alone would take '²' and 5,000-digit strings, which int() then refuses.
    if raw is None or not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        return None
    return int(raw)


class BodyTooLarge(Exception):
    """A body over the limit; every layer answers it with a 413 naming the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"request body must be at most {limit} bytes")

    def detail(self) -> dict[str, Any]:
        return {"detail": str(self)}


@dataclass(frozen=True)
class Echoed:
    """What `POST /echo` read: non-empty chunks, bytes, and whether the client left first."""

    chunks: int
    bytes: int
    disconnected: bool

    def as_dict(self) -> dict[str, Any]:
        return {"chunks": self.chunks, "bytes": self.bytes, "disconnected": self.disconnected}


async def read_body(receive: Receive, headers: list[tuple[bytes, bytes]], limit: int) -> Echoed:
    """Read a request body to its end through ASGI `receive`, counting chunks and bytes.

    `BodyTooLarge` before reading a byte when the client declared more than `limit`, and as soon
    as the bytes pass it otherwise. A client that leaves mid-body ends the read early.
    """
    declared = declared_length(headers)
    if declared is not None and declared > limit:
        raise BodyTooLarge(limit)
    chunks = size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return Echoed(chunks, size, disconnected=True)
        chunk = message.get("body", b"")
        chunks += 1 if chunk else 0
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        if not message.get("more_body", False):
            return Echoed(chunks, size, disconnected=False)
