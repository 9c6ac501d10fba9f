"""See every hop into the anyio threadpool without touching the app's handlers.

Starlette's `run_in_threadpool`, `iterate_in_threadpool`, sync background tasks and FastAPI's sync
dependencies all end in `anyio.to_thread.run_sync`, looked up as a module attribute at call time.
`install()` wraps that one attribute, once per process. The wrapper costs a context-variable read
when no request is being probed; inside a probed request it wraps the function so the worker thread
notes itself in the request's `Record` before and after running it.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

import anyio.to_thread

from asgi_lab.probe.identity import current_thread
from asgi_lab.probe.record import Hop, Record

T = TypeVar("T")

#: The record of the request being served in this context. anyio copies the context into the
#: worker thread, so handlers running there see it too.
current_record: ContextVar[Record | None] = ContextVar("asgi_lab_record", default=None)

_installed = False
_install_lock = threading.Lock()


def call_name(func: Callable[..., Any]) -> str:
    """A readable name for what runs in the thread: partials (Starlette makes one) unwrapped."""
    while isinstance(func, functools.partial):
        func = func.func
    return str(getattr(func, "__qualname__", None) or type(func).__qualname__)


def carries_endpoint(func: Callable[..., Any], endpoint: object) -> bool:
    """Whether calling `func` runs the route's endpoint (`scope["endpoint"]`).

    Starlette hands the threadpool `partial(endpoint, request)`, a class endpoint's bound method,
    FastAPI `partial(_run_sync_endpoint, function=endpoint, ...)`; all three count.
    """
    if endpoint is None:
        return False
    while True:
        if func is endpoint:
            return True
        if isinstance(endpoint, type) and isinstance(getattr(func, "__self__", None), endpoint):
            return True
        if not isinstance(func, functools.partial):
            return False
        if any(arg is endpoint for arg in (*func.args, *func.keywords.values())):
            return True
        func = func.func


def install() -> None:
    """Wrap `anyio.to_thread.run_sync` so probed requests record their threadpool hops."""
    global _installed
    with _install_lock:
        if _installed:
            return
        original = anyio.to_thread.run_sync

        @functools.wraps(original)
        async def run_sync(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
            record = current_record.get()
            if record is None:
                return await original(func, *args, **kwargs)
            limiter = kwargs.get("limiter") or record.loop.limiter
            scope = record.scope
            hop = Hop(
                call_name(func),
                carries_endpoint(func, scope.get("endpoint") if scope is not None else None),
                time.time_ns(),
                limiter.borrowed_tokens,
                limiter.statistics().tasks_waiting,
            )
            record.hops.append(hop)

            def observed(*a: Any) -> T:
                hop.thread = current_thread()
                hop.start_ns = time.time_ns()
                try:
                    return func(*a)
                finally:
                    hop.end_ns = time.time_ns()

            return await original(observed, *args, **kwargs)

        run_sync.__asgi_lab_original__ = original  # type: ignore[attr-defined]
        # Same call signature as the original; mypy cannot see through functools.wraps.
        anyio.to_thread.run_sync = run_sync  # type: ignore[assignment]
        _installed = True
