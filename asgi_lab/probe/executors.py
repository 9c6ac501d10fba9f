"""See every call a loop sends to an executor: `asyncio.to_thread`, `loop.run_in_executor(None or
an executor, ...)`, asgiref's `SyncToAsync` (Django's sync views), Quart's `run_sync`, Litestar's
`sync_to_thread`.

All of them end in the running loop's `run_in_executor`, a public method looked up on the loop at
call time. `watch(loop)` wraps it on that one loop object, as an attribute of the instance (the
loop's class and other loops are untouched), when the probe first meets the loop and `install()`
has been called; `uninstall()` takes off every wrapper still on top and turns the others into
pass-throughs, so a wrapper someone put over ours keeps working. Nothing happens at import. The
default executor is never replaced: the wrapper sees `None` and passes it on.

A hop is attributed at submission, on the submitting thread (the loop's): the request's record is
read from the context there and kept with the call, since plain `run_in_executor` does not copy
the context into the thread. The worker thread notes itself and the times in the hop. Every call
through the wrapper, probed or not, is counted in its pool (`pools.py`), so a hop's busy and
queued counts include other requests' calls. A call to a process pool is not wrapped (it must
pickle): its hop has no thread and no start, and ends when the loop sees the answer.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import sys
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asgi_lab.probe.endpoints import carries_endpoint, django_view, endpoint_of
from asgi_lab.probe.faults import fault
from asgi_lab.probe.hook import call_name, current_record
from asgi_lab.probe.identity import current_thread
from asgi_lab.probe.pools import Pool, Ticket, default_pool, in_threads, pool_for
from asgi_lab.probe.record import Hop, Record

__all__ = ["install", "installed", "target", "uninstall", "watch"]

_lock = threading.Lock()
_wanted = False


@dataclass(slots=True)
class _Hooked:
    """Our wrapper on one loop, what it wrapped, and whether that was the loop's own attribute."""

    original: Callable[..., Any]
    shadowed: bool  # True when `original` was an attribute of the instance (someone's wrapper)
    default: Pool  # the loop's default executor
    wrapper: Callable[..., Any] | None = None
    on: bool = True


_hooked: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Hooked] = weakref.WeakKeyDictionary()


class _Observed(Ticket):
    """A function on its way to a worker thread, noting the thread and times in its `Hop`."""

    __slots__ = ("func", "pool", "hop")

    def __init__(self, func: Callable[..., Any], pool: Pool, hop: Hop | None) -> None:
        super().__init__()
        self.func, self.pool, self.hop = func, pool, hop

    def __call__(self, *args: Any) -> Any:
        hop = self.hop
        try:
            thread = current_thread()
            if hop is not None:
                hop.start_ns = time.time_ns()
                hop.thread = thread
            self.pool.start(self, thread)
        except Exception as exc:
            fault("hop", exc)
        try:
            return self.func(*args)
        finally:
            if hop is not None:
                hop.end_ns = time.time_ns()
            self.pool.end()


def _asgiref_call(func: Callable[..., Any]) -> Any:
    """The `SyncToAsync` that submitted `func` (its `thread_handler`, applied), or None."""
    sync: Any = sys.modules.get("asgiref.sync")
    if sync is None or not isinstance(func, functools.partial):
        return None
    owner = getattr(func.func, "__self__", None)
    return owner if isinstance(owner, sync.SyncToAsync) else None


def _runs_in(func: Any) -> bool:
    return isinstance(getattr(func, "__self__", None), contextvars.Context)


def target(func: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """The function a submission will really run, the carriers taken off: a context's `run`
    (`asyncio.to_thread`, Quart, Litestar) and asgiref's `thread_handler` (its `func`)."""
    run: Any = func
    for _ in range(8):
        if _runs_in(run) and args:
            run, args = args[0], args[1:]
        elif isinstance(run, functools.partial) and _runs_in(run.func) and run.args:
            run, args = run.args[0], run.args[1:]
        else:
            owner = _asgiref_call(run)
            return run if owner is None else owner.func
    return run


def _is_endpoint(record: Record, run: Callable[..., Any], submitted: Callable[..., Any]) -> bool:
    scope = record.scope
    endpoint = endpoint_of(scope)
    if endpoint is None and _asgiref_call(submitted) is not None:
        endpoint = django_view(scope)
    if endpoint is None:
        return False
    record.endpoint_known = True
    return carries_endpoint(run, endpoint)


def _settled(observed: _Observed | None, pool: Pool, hop: Hop | None, future: Any) -> None:
    """On the loop, when the loop's future is done: an opaque call's end, a cancelled call's
    withdrawal from the queue, and when the awaiting task runs again (its wake-up is the future's
    next callback, scheduled in the same step as this one)."""
    try:
        if hop is not None:
            hop.resumed_ns = now = time.time_ns()
            if observed is None:
                hop.end_ns = now  # an opaque call ends when the loop sees its answer
        if observed is None:
            pool.end()
        elif future.cancelled():
            pool.withdraw(observed)
    except Exception as exc:
        fault("hop", exc)


def _make_wrapper(hooked: _Hooked) -> Callable[..., Any]:
    original, default = hooked.original, hooked.default

    @functools.wraps(original)
    def run_in_executor(executor: Any, func: Callable[..., Any], *args: Any) -> Any:
        if not hooked.on or isinstance(func, _Observed):
            return original(executor, func, *args)
        try:
            pool = default if executor is None else pool_for(executor)
            record = current_record.get()
            hop = None
            if record is not None:
                run = target(func, args)
                size = pool.size
                endpoint = _is_endpoint(record, run, func)
                called = time.time_ns()
                busy, queued = pool.submitted()
                hop = Hop(call_name(run), endpoint, called, pool, size, busy, queued)
                hop.processes = pool.processes
                record.add_hop(hop)
            else:
                pool.submitted()
            seen = not pool.opaque and (executor is None or in_threads(executor))
            observed = _Observed(func, pool, hop) if seen else None
        except Exception as exc:
            fault("hop", exc)
            return original(executor, func, *args)
        try:
            future = original(executor, func if observed is None else observed, *args)
        except BaseException:
            if observed is None:
                pool.end()
            else:
                pool.withdraw(observed)
            raise
        future.add_done_callback(functools.partial(_settled, observed, pool, hop))
        return future

    return run_in_executor


def _reachable(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether calls to `loop.run_in_executor` reach our live wrapper (maybe through others')."""
    hooked = _hooked.get(loop)
    if hooked is None or not hooked.on:
        return False
    func: Any = loop.run_in_executor
    for _ in range(32):  # a chain of wrappers, each naming the next with `__wrapped__`
        if func is hooked.wrapper:
            return True
        func = getattr(func, "__wrapped__", None)
        if func is None:
            return False
    return False


def install() -> None:
    """Wrap `run_in_executor` on every loop the probe meets from now on (see `watch`)."""
    global _wanted
    _wanted = True


def installed(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether `loop`'s executor calls are being recorded right now."""
    return _wanted and _reachable(loop)


def watch(loop: asyncio.AbstractEventLoop, impl: str) -> None:
    """Wrap `loop.run_in_executor` (`impl`: "asyncio", "uvloop", ...) when installed and not
    already wrapped; call on the loop's thread."""
    if not _wanted or _reachable(loop):
        return
    with _lock:
        if _reachable(loop):
            return
        shadowed = "run_in_executor" in vars(loop)
        old = _hooked.get(loop)
        # A loop wrapped before keeps its default pool: its counts still stand.
        default = default_pool(impl) if old is None else old.default
        hooked = _Hooked(loop.run_in_executor, shadowed, default)
        hooked.wrapper = _make_wrapper(hooked)
        _hooked[loop] = hooked
        loop.run_in_executor = hooked.wrapper  # type: ignore[method-assign, assignment]


def uninstall() -> None:
    """Stop recording executor calls; take our wrapper off each loop where it is still on top.

    Where another wrapper went on top of ours, ours stays in its chain but passes every call
    through, so removing it never breaks theirs.
    """
    global _wanted
    with _lock:
        _wanted = False
        for loop, hooked in list(_hooked.items()):
            hooked.on = False
            if vars(loop).get("run_in_executor") is hooked.wrapper:
                if hooked.shadowed:
                    loop.run_in_executor = hooked.original  # type: ignore[method-assign, assignment]
                else:
                    del loop.run_in_executor
