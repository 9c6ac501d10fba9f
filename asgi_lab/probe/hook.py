"""See every hop into the anyio threadpool without touching the app's handlers.

Starlette's `run_in_threadpool`, `iterate_in_threadpool`, sync background tasks and FastAPI's sync
dependencies all end in `anyio.to_thread.run_sync`, looked up as a module attribute at call time.
`install()` wraps that one attribute; `uninstall()` puts back what it wrapped. Nothing happens at
import: the probe installs the hook when its app starts and checks on every request that the hook
is still reachable, because other code may wrap the same attribute and later undo its wrapper,
taking ours with it. Then `install()` wraps again.

Whatever the order of wrappers, a hop is recorded once: a function already observed by our
wrapper is passed through as it is. The wrapper costs a context-variable read when no request is
being probed; inside a probed request the worker thread notes itself in the request's `Record`
before and after running the function, and the loop notes when the awaiting task ran again.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import anyio.to_thread

from asgi_lab.probe.endpoints import carries_endpoint, endpoint_of
from asgi_lab.probe.faults import fault
from asgi_lab.probe.identity import current_thread, tasks_waiting
from asgi_lab.probe.record import Hop, Record

__all__ = [
    "current_record",
    "ensure_installed",
    "hooked",
    "install",
    "installed",
    "live",
    "uninstall",
]

T = TypeVar("T")

#: The record of the request being served in this context. anyio copies the context into the
#: worker thread, so handlers running there see it too.
current_record: ContextVar[Record | None] = ContextVar("asgi_lab_record", default=None)

_lock = threading.Lock()
#: Our wrapper while installed (None once uninstalled), and the function it wrapped.
live: Callable[..., Any] | None = None
_wrapped: Callable[..., Any] | None = None


def call_name(func: Callable[..., Any]) -> str:
    """A readable name for what runs in the thread: partials (Starlette makes one) unwrapped."""
    while isinstance(func, functools.partial):
        func = func.func
    return str(getattr(func, "__qualname__", None) or type(func).__qualname__)


class _Observed:
    """A function on its way to a worker thread, noting the thread and times in its `Hop`."""

    __slots__ = ("func", "hop")

    def __init__(self, func: Callable[..., Any], hop: Hop) -> None:
        self.func, self.hop = func, hop

    def __call__(self, *args: Any) -> Any:
        hop = self.hop
        try:
            hop.thread = current_thread()
            hop.start_ns = time.time_ns()
        except Exception as exc:
            fault("hop", exc)
        try:
            return self.func(*args)
        finally:
            hop.end_ns = time.time_ns()


def _make_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    async def run_sync(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        record = current_record.get()
        if record is None or type(func) is _Observed or live is not wrapper:
            # Not probed, already observed by another copy of us, or uninstalled while a
            # wrapper above us still calls us: pass through.
            return await original(func, *args, **kwargs)  # type: ignore[no-any-return]
        try:
            default = record.loop.limiter
            limiter = kwargs.get("limiter") or default
            scope = record.scope
            # Starlette's and FastAPI's key first: one lookup on their path (`endpoints.py`).
            endpoint = scope.get("endpoint") if scope is not None else None
            if endpoint is None:
                endpoint = endpoint_of(scope)
            if endpoint is not None:
                record.endpoint_known = True
            total = limiter.total_tokens
            borrowed = limiter.borrowed_tokens
            hop = Hop(
                call_name(func),
                carries_endpoint(func, endpoint),
                time.time_ns(),
                "anyio" if limiter is default else "anyio-limiter",
                total,
                borrowed,
                tasks_waiting(limiter, borrowed, total),
            )
            record.add_hop(hop)
        except Exception as exc:
            fault("hop", exc)
            return await original(func, *args, **kwargs)  # type: ignore[no-any-return]
        try:
            return await original(_Observed(func, hop), *args, **kwargs)  # type: ignore[no-any-return]
        finally:
            # Back on the loop: from the hop's end to here, its answer waited for the loop.
            hop.resumed_ns = time.time_ns()

    # Decorated by a call, not with `@`: compiled by mypyc, a nested function decorated with
    # `@` cannot name itself (its closure never holds the decorated name).
    wrapper: Callable[..., Any] = functools.wraps(original)(run_sync)
    return wrapper


def _reachable() -> bool:
    """Whether calls to `anyio.to_thread.run_sync` reach our wrapper (maybe through others')."""
    func: Any = anyio.to_thread.run_sync
    for _ in range(32):  # a chain of wrappers, each naming the next with `__wrapped__`
        if func is live:
            return True
        func = getattr(func, "__wrapped__", None)
        if func is None:
            return False
    return False


def installed() -> bool:
    """Whether hops are being recorded right now."""
    return live is not None and _reachable()


def install() -> None:
    """Wrap `anyio.to_thread.run_sync` so probed requests record their threadpool hops.

    Idempotent; when someone else's wrapper replaced ours and was then undone, wraps again.
    """
    global live, _wrapped
    if live is not None and anyio.to_thread.run_sync is live:
        return
    with _lock:
        if installed():
            return
        original = anyio.to_thread.run_sync
        live, _wrapped = _make_wrapper(original), original
        # Same call signature as the original; mypy cannot see through functools.wraps.
        anyio.to_thread.run_sync = live  # type: ignore[assignment]


def ensure_installed() -> object:
    """`install()` unless our wrapper is the attribute itself; returns what is installed now,
    for a caller to compare with `anyio.to_thread.run_sync` on every request."""
    if live is None or anyio.to_thread.run_sync is not live:
        install()
    return anyio.to_thread.run_sync


def uninstall() -> None:
    """Stop recording hops; put back what we wrapped when our wrapper is still on top.

    If another wrapper went on top of ours, ours stays in its chain but passes every call
    through, so removing it never breaks theirs.
    """
    global live, _wrapped
    with _lock:
        if live is not None and anyio.to_thread.run_sync is live:
            anyio.to_thread.run_sync = _wrapped  # type: ignore[assignment]
        live = _wrapped = None


@contextmanager
def hooked() -> Iterator[None]:
    """Record hops inside the block; restore the previous state after it."""
    was = installed()
    install()
    try:
        yield
    finally:
        if not was:
            uninstall()
