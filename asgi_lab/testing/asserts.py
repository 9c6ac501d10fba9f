"""Assertions on where requests ran, failing with a sentence that says what happened.

Each takes the `RecordData` of one response (`client.record(response)`) or, for the ones about
a whole run, the client itself (anything with `.records`). Threads are compared by their
kernel id, never by name: every anyio worker thread has the same name, and under Starlette's
`TestClient` the loop runs on a portal thread, not the main one. What each message names:

- the request (`GET /items`) and, when a router named it, its endpoint (`async def read_items`);
- a thread as "the loop thread" or "threadpool thread <native id>";
- a loop block by the line it was stuck on, as the watchdog found it.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from asgi_lab.records.overlap import peak
from asgi_lab.records.schema import BlockData, HopData, RecordData
from asgi_lab.testing.client import describe, endpoint_of

__all__ = [
    "assert_in_threadpool",
    "assert_max_tokens",
    "assert_no_loop_block",
    "assert_on_loop",
    "assert_same_thread",
    "loop_blocks",
    "peak_tokens",
]


class HasRecords(Protocol):
    @property
    def records(self) -> Sequence[RecordData]: ...


def _request(record: RecordData) -> str:
    endpoint = endpoint_of(record)
    return f"{record.method} {record.path}" + (f" ({endpoint})" if endpoint else "")


def _thread(record: RecordData, native_id: int) -> str:
    if native_id == record.loop.thread.native_id:
        return f"the loop thread ({native_id})"
    return f"threadpool thread {native_id}"


def assert_on_loop(record: RecordData) -> None:
    """The handler ran on the loop thread (an `async def` that never went to a thread)."""
    if record.handler.in_threadpool:
        raise AssertionError(
            f"{record.method} {record.path} ran on "
            f"{_thread(record, record.handler.thread.native_id)} "
            f"({endpoint_of(record) or 'its handler'}); expected the loop thread "
            f"({record.loop.thread.native_id})"
        )


def assert_in_threadpool(record: RecordData) -> None:
    """The handler ran on a threadpool thread (a `def` endpoint), not on the loop."""
    if not record.handler.in_threadpool:
        raise AssertionError(
            f"{record.method} {record.path} ran on the loop thread "
            f"({endpoint_of(record) or 'its handler'}); expected a threadpool thread"
        )


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _locate(record: RecordData, what: str | Callable[..., Any]) -> tuple[str, set[int]]:
    """What to call `what` in a message, and the threads it ran on in this request."""
    func = None if isinstance(what, str) else describe(what)
    name = what if isinstance(what, str) else func.name  # type: ignore[union-attr]
    endpoint = endpoint_of(record)
    if endpoint is not None and _short(name) == _short(endpoint.name):
        ran = {h.thread.native_id for h in record.hops if h.endpoint and h.thread is not None}
        return str(endpoint), ran or {record.loop.thread.native_id}
    hops = [h for h in record.hops if h.call == name or _short(h.call) == _short(name)]
    if hops:
        return f"def {name}", {h.thread.native_id for h in hops if h.thread is not None}
    if func is not None and func.is_async:
        # An async function never becomes a hop: it ran on the loop thread.
        return str(func), {record.loop.thread.native_id}
    calls = ", ".join(dict.fromkeys(h.call for h in record.hops)) or "none"
    raise AssertionError(
        f"{record.method} {record.path} made no threadpool call named {name!r} (its calls: "
        f"{calls}); an async def never becomes one, it runs on the loop thread: pass the "
        "function itself, not its name, to say so"
    )


def assert_same_thread(
    record: RecordData, first: str | Callable[..., Any], second: str | Callable[..., Any]
) -> None:
    """Two functions of one request ran on one thread: by name as the hops name them
    (`"get_db"`), or the functions themselves (which says whether they are `async def`)."""
    first_name, first_threads = _locate(record, first)
    second_name, second_threads = _locate(record, second)
    threads = first_threads | second_threads
    if len(threads) > 1:

        def on(found: set[int]) -> str:
            return " and ".join(_thread(record, t) for t in sorted(found))

        raise AssertionError(
            f"{record.method} {record.path}: {first_name} ran on {on(first_threads)}, "
            f"{second_name} on {on(second_threads)}; expected one thread for both"
        )


def _records(target: RecordData | HasRecords | Iterable[RecordData]) -> list[RecordData]:
    if isinstance(target, RecordData):
        return [target]
    if hasattr(target, "records"):
        return list(target.records)
    return list(target)


#: Our own frames (the clients' wrappers) are never the reader's code.
_OURS = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _stack(block: BlockData, depth: int = 3) -> str:
    """The `depth` frames leading to the blamed line, innermost first (the watchdog lists them
    outermost first), without ours."""
    frames = [f.where() for f in reversed(block.stack) if not f.file.startswith(_OURS)]
    return " <- ".join(frames[:depth])


def loop_blocks(
    target: RecordData | HasRecords | Iterable[RecordData], max_ms: float = 0.0
) -> list[tuple[RecordData, BlockData]]:
    """Every loop block longer than `max_ms` the watchdog pinned on these requests."""
    return [
        (record, block)
        for record in _records(target)
        for block in record.blocks
        if block.ms > max_ms
    ]


def assert_no_loop_block(
    target: RecordData | HasRecords | Iterable[RecordData], max_ms: float = 50.0
) -> None:
    """No request blocked the loop for more than `max_ms` (as the watchdog saw it: it reports
    stalls from the client's `block_ms` on)."""
    found = loop_blocks(target, max_ms)
    if found:
        lines = [
            f"{r.method} {r.path} blocked the loop for {b.ms:.0f} ms at {b.frame.where()}"
            for r, b in found
        ]
        stack = _stack(found[0][1])
        raise AssertionError(
            "; ".join(lines)
            + f"; expected no block over {max_ms:g} ms"
            + (f" (stack: {stack})" if stack else "")
        )


def peak_tokens(
    target: RecordData | HasRecords | Iterable[RecordData], *, pool: str | None = "anyio"
) -> tuple[int, list[HopData]]:
    """The most calls these requests had running at one instant in `pool` (a hop's
    `pool.name`: "anyio" by default, "default-executor", "executor:reports", ...; None for every
    pool together), and those calls.

    Swept from each hop's own start and end, not read from the counts at submission: a request
    that starts 40 calls at once finds every token free. A token is taken a moment before its
    call starts and given back a moment after it ends, so this is a lower bound.
    """
    hops = [
        hop
        for record in _records(target)
        for hop in record.hops
        if hop.thread is not None
        and hop.end_ns >= hop.start_ns
        and (pool is None or hop.pool.name == pool)
    ]
    most, when = peak((h.start_ns, h.end_ns) for h in hops)
    return most, [h for h in hops if h.start_ns <= when < h.end_ns] if most else []


def assert_max_tokens(
    target: HasRecords | Iterable[RecordData], n: int, *, pool: str | None = "anyio"
) -> None:
    """At no instant did these requests hold more than `n` threads of `pool` (anyio's tokens
    by default; see `peak_tokens`)."""
    peak, running = peak_tokens(target, pool=pool)
    if peak > n:
        calls = Counter(h.call for h in running)
        shown = ", ".join(f"{call} x{count}" for call, count in calls.most_common(3))
        threads = len({h.thread.native_id for h in running if h.thread is not None})
        held = "threadpool tokens" if pool == "anyio" else f"threads of {pool or 'any pool'}"
        raise AssertionError(
            f"{peak} {held} were held at once ({shown}, on {threads} threads); expected at most {n}"
        )
