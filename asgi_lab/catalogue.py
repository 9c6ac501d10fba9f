"""What every layer's endpoints do, so the three layers differ only in how they are wired.

Each layer parses the same inputs with the same bounds, does the same work on the same kind of
thread, and answers the same JSON, with `served_by` computed on the thread that ran the handler.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio.to_thread

from asgi_lab.probe import served_by

LAYERS = ("raw", "routes", "api")

#: Every path the catalogue serves, with its method: the contract the three layers share.
ENDPOINTS: tuple[tuple[str, str], ...] = (
    ("GET", "/"),
    ("GET", "/quick"),
    ("GET", "/async/sleep"),
    ("GET", "/async/block"),
    ("GET", "/sync/sleep"),
    ("GET", "/sync/cpu"),
    ("GET", "/async/cpu"),
    ("POST", "/echo"),
    ("GET", "/scope"),
    ("GET", "/_lab/records"),
)

MAX_SECONDS_ENV = "ASGI_LAB_MAX_SECONDS"
MAX_BODY_ENV = "ASGI_LAB_MAX_BODY"
THREADS_ENV = "ASGI_LAB_THREADS"
LOOPS_PER_MS_ENV = "ASGI_LAB_LOOPS_PER_MS"
MAX_THREADS = 10_000


class BadInput(ValueError):
    """A request value out of its expected form; every layer answers it with a 422."""

    def __init__(self, loc: tuple[str, str], kind: str, value: Any, expected: str) -> None:
        self.loc = loc
        self.kind = kind
        self.value = value
        self.expected = expected
        shown = "nothing" if value is None else repr(value)
        super().__init__(f"{loc[1]} must be {expected}, got {shown}")

    def detail(self) -> dict[str, Any]:
        """The error in FastAPI's shape, so all three layers answer bad input alike."""
        return {
            "detail": [
                {"type": self.kind, "loc": list(self.loc), "msg": str(self), "input": self.value}
            ]
        }


def _env_number(name: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(
            f"${name} must be a number from {low:g} to {high:g}, got {raw!r}"
        ) from None
    if not low <= value <= high:
        raise ValueError(f"${name} must be a number from {low:g} to {high:g}, got {raw!r}")
    return value


@dataclass(frozen=True)
class Limits:
    """Bounds on what a request may ask for; read once from the environment."""

    max_seconds: float = 30.0
    max_body: int = 1024 * 1024

    @property
    def max_ms(self) -> int:
        return int(self.max_seconds * 1000)

    @classmethod
    def from_env(cls) -> Limits:
        return cls(
            max_seconds=_env_number(MAX_SECONDS_ENV, 30.0, 0.0, 3600.0),
            max_body=int(_env_number(MAX_BODY_ENV, 1024 * 1024, 0, 1024**3)),
        )


LIMITS = Limits.from_env()


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


def seconds(raw: str | None, limits: Limits = LIMITS) -> float:
    """The `seconds` query parameter: a finite number from 0 to the cap."""
    return bounded_query(raw, "seconds", 0.0, limits.max_seconds, float)


def milliseconds(raw: str | None, limits: Limits = LIMITS) -> int:
    """The `ms` query parameter: a whole number of milliseconds from 0 to the cap."""
    return bounded_query(raw, "ms", 0, limits.max_ms, int)


def record_limit(raw: str | None, ring_size: int) -> int:
    """The `limit` of `/_lab/records`: how many recent records, 1 to the ring's size."""
    if raw is None:
        return min(100, ring_size)
    return bounded_query(raw, "limit", 1, ring_size, int)


def threadpool_size(raw: str | None) -> int | None:
    """$ASGI_LAB_THREADS: the worker's threadpool tokens, or None to keep anyio's 40."""
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_THREADS:
        raise ValueError(
            f"${THREADS_ENV} must be a whole number from 1 to {MAX_THREADS}, got {raw!r}"
        )
    return value


def apply_threadpool_size() -> int:
    """Set this loop's default thread limiter from $ASGI_LAB_THREADS; run it at startup."""
    limiter = anyio.to_thread.current_default_thread_limiter()
    size = threadpool_size(os.environ.get(THREADS_ENV))
    if size is not None:
        limiter.total_tokens = size
    return int(limiter.total_tokens)


def reply(layer: str, endpoint: str, **fields: Any) -> dict[str, Any]:
    """The JSON every endpoint answers; call it on the thread that ran the handler."""
    return {"layer": layer, "endpoint": endpoint, **fields, "served_by": served_by()}


# The work itself. Each function is the whole handler body, so it runs on the thread its layer
# puts the handler on: the loop for async ones, a threadpool thread for sync ones.


async def async_sleep(layer: str, secs: float) -> dict[str, Any]:
    """Cooperative: the loop serves other requests while this one waits."""
    started = time.perf_counter()
    await asyncio.sleep(secs)
    return reply(layer, "async/sleep", seconds=secs, took=time.perf_counter() - started)


async def async_block(layer: str, secs: float) -> dict[str, Any]:
    """The classic mistake: `time.sleep` in an async handler freezes the whole loop."""
    started = time.perf_counter()
    time.sleep(secs)  # noqa: ASYNC251 -- blocking the loop is what this endpoint demonstrates
    return reply(layer, "async/block", seconds=secs, took=time.perf_counter() - started)


def sync_sleep(layer: str, secs: float) -> dict[str, Any]:
    """Blocking, but on a threadpool thread: the loop stays free, one token is held."""
    started = time.perf_counter()
    time.sleep(secs)
    return reply(layer, "sync/sleep", seconds=secs, took=time.perf_counter() - started)


def sync_cpu(layer: str, ms: int) -> dict[str, Any]:
    """Pure-Python work on a threadpool thread: it holds the GIL, so threads do not add up."""
    started = time.perf_counter()
    loops = burn(ms)
    return reply(layer, "sync/cpu", ms=ms, loops=loops, took=time.perf_counter() - started)


async def async_cpu(layer: str, ms: int) -> dict[str, Any]:
    """Pure-Python work on the loop: as blocking as `time.sleep`, and it burns a core."""
    started = time.perf_counter()
    loops = burn(ms)
    return reply(layer, "async/cpu", ms=ms, loops=loops, took=time.perf_counter() - started)


_loops_per_ms: float = 0.0


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def loops_per_ms() -> float:
    """How many `_spin` iterations make a millisecond of work: $ASGI_LAB_LOOPS_PER_MS, or
    measured once per process on this core.

    Processes calibrate apart and rarely agree to better than ~10-20 % on a shared or virtual
    CPU; experiments that compare workers set the variable so that every worker does the same
    amount of work.
    """
    global _loops_per_ms
    if not _loops_per_ms:
        fixed = _env_number(LOOPS_PER_MS_ENV, 0.0, 0.0, 1e9)
        if fixed:
            _loops_per_ms = fixed
        else:
            n = 20_000
            best = math.inf
            for _ in range(5):
                started = time.perf_counter()
                _spin(n)
                best = min(best, time.perf_counter() - started)
            _loops_per_ms = n / (best * 1000)
    return _loops_per_ms


def burn(ms: int) -> int:
    """A fixed amount of pure-Python work that takes `ms` on an idle core.

    The amount is fixed, not the duration: two threads burning 100 ms each take ~200 ms together
    under the GIL, which is what the lab wants to show.
    """
    n = int(ms * loops_per_ms())
    _spin(n)
    return n


def echo_result(chunks: int, size: int, disconnected: bool) -> dict[str, Any]:
    return {"chunks": chunks, "bytes": size, "disconnected": disconnected}


def body_too_large(limits: Limits = LIMITS) -> dict[str, Any]:
    return {"detail": f"request body must be at most {limits.max_body} bytes"}


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
