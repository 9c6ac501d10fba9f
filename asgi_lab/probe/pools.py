"""The pools behind `loop.run_in_executor`, as the probe counts them: a name, a size when one can
be known, and the calls running (busy) and waiting (queued) in it.

How an executor is named:

- `None`, the loop's default executor: "default-executor". Its size is Python's documented
  default, `min(32, cpus + 4)`, as long as its threads carry the loop's own name prefix
  ("asyncio_N" for asyncio, "uvloop_N" for uvloop); a thread named otherwise means the app set
  its own default executor, whose size no public attribute tells: then None.
- one of asgiref's executors for thread-sensitive calls (its `single_thread_executor`, one in
  its `context_to_thread_executor`, or a `CurrentThreadExecutor`): "asgiref", size 1, as
  asgiref makes every one of them.
- a `ProcessPoolExecutor`: "processes:<n>", numbered in the order met; its workers are other
  processes.
- any other `ThreadPoolExecutor`: "executor:<thread name prefix>", the prefix read from the first
  of its threads that runs a hop (`ThreadPoolExecutor(thread_name_prefix="reports")` runs
  "reports_0", ...); "executor:<n>" until then. Size None: `max_workers` is not public.
- any other executor: "executor:<class name>", size None, not looked inside (it may send the call
  anywhere).

The counts are of the calls the probe saw go through the loop's `run_in_executor`, probed or
not; work an executor gets by other means (its own `submit`) is not seen. They change on the
loop thread (submission) and on the worker threads (start, end), under the pool's lock.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import sys
import threading
import weakref
from concurrent.futures import Executor
from typing import Any

from asgi_lab.records.schema import ThreadData

__all__ = ["Pool", "Ticket", "default_pool", "default_size", "in_threads", "pool_for"]


def default_size() -> int:
    """The default executor's size as Python documents it: `min(32, cpus + 4)`."""
    count = getattr(os, "process_cpu_count", os.cpu_count)() or 1
    return min(32, count + 4)


class Ticket:
    """A call on its way to a pool: whether it began, or was counted out of the queue unbegun."""

    __slots__ = ("began", "gone")

    def __init__(self) -> None:
        self.began = False
        self.gone = False


class Pool:
    """One pool's name, size and counts; `str(pool)` is its name."""

    __slots__ = (
        "name",
        "size",
        "busy",
        "queued",
        "processes",
        "opaque",
        "_lock",
        "_prefix",
        "__weakref__",
    )

    def __init__(
        self,
        name: str,
        size: float | None,
        *,
        processes: bool = False,
        opaque: bool = False,
        prefix: str = "",
    ) -> None:
        self.name = name
        self.size = size
        self.busy = 0
        self.queued = 0
        self.processes = processes
        # True when its calls cannot be watched starting (another process, an unknown
        # executor): then `busy` counts every call in flight and `queued` stays 0.
        self.opaque = opaque or processes
        self._lock = threading.Lock()
        # "": nothing learnt from threads. "*": name the pool after its threads' prefix. Else
        # the prefix its threads should carry while the size holds (the default executor's).
        self._prefix = prefix

    def __str__(self) -> str:
        return self.name

    def submitted(self) -> tuple[int, int]:
        """Count a call in; the busy and queued counts it found."""
        with self._lock:
            busy, queued = self.busy, self.queued
            if self.opaque:
                self.busy += 1
            else:
                self.queued += 1
        return busy, queued

    def start(self, ticket: Ticket, thread: ThreadData) -> None:
        """A call began on `thread`."""
        with self._lock:
            if not ticket.gone:
                self.queued -= 1
            ticket.began = True
            self.busy += 1
        prefix = self._prefix
        if prefix:
            stem = thread.name.rpartition("_")[0] or thread.name
            if prefix == "*":
                self.name, self._prefix = f"executor:{stem}", ""
            elif stem != prefix:
                self.size, self._prefix = None, ""  # the app's own default executor

    def end(self) -> None:
        """A call that began has ended (or, for an opaque pool, any call has settled)."""
        with self._lock:
            self.busy -= 1

    def withdraw(self, ticket: Ticket) -> None:
        """A call was cancelled, or its submission failed: out of the queue if it never began."""
        with self._lock:
            if not ticket.began and not ticket.gone:
                ticket.gone = True
                self.queued -= 1


_numbers = itertools.count(1)
_pools: weakref.WeakKeyDictionary[Executor, Pool] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def default_pool(impl: str) -> Pool:
    """A loop's default executor, for a loop of implementation `impl` ("asyncio", "uvloop")."""
    prefix = {"asyncio": "asyncio", "uvloop": "uvloop"}.get(impl)
    if prefix is None:
        return Pool("default-executor", None)
    return Pool("default-executor", default_size(), prefix=prefix)


def pool_for(executor: Executor) -> Pool:
    """The pool of `executor`, made the first time it is met."""
    pool = _pools.get(executor)
    if pool is None:
        with _lock:
            pool = _pools.get(executor)
            if pool is None:
                pool = _pools[executor] = _new_pool(executor)
    return pool


def _new_pool(executor: Executor) -> Pool:
    if _asgiref_thread_sensitive(executor):
        return Pool("asgiref", 1)
    if isinstance(executor, concurrent.futures.ProcessPoolExecutor):
        return Pool(f"processes:{next(_numbers)}", None, processes=True)
    if isinstance(executor, concurrent.futures.ThreadPoolExecutor):
        return Pool(f"executor:{next(_numbers)}", None, prefix="*")
    return Pool(f"executor:{type(executor).__qualname__}", None, opaque=True)


def in_threads(executor: Executor) -> bool:
    """Whether `executor` runs calls on threads of this process (so they can be observed)."""
    if isinstance(executor, concurrent.futures.ThreadPoolExecutor):
        return True
    current = sys.modules.get("asgiref.current_thread_executor")
    return current is not None and isinstance(executor, current.CurrentThreadExecutor)


def _asgiref_thread_sensitive(executor: Executor) -> bool:
    sync: Any = sys.modules.get("asgiref.sync")
    if sync is None:
        return False
    if in_threads(executor) and not isinstance(executor, concurrent.futures.ThreadPoolExecutor):
        return True  # a CurrentThreadExecutor: the sync thread waiting below an async_to_sync
    to_async = sync.SyncToAsync
    if executor is to_async.single_thread_executor:
        return True
    return any(e is executor for e in list(to_async.context_to_thread_executor.values()))
