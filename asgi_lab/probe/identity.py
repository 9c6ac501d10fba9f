"""Who is running right now: the process, the event loop and its thread, the current thread."""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import weakref
from dataclasses import dataclass, field

import anyio.to_thread
from anyio import CapacityLimiter

from asgi_lab.records.schema import HandlerData, HeaderData, LoopData, ThreadData, request_id

__all__ = ["LoopInfo", "current_loop", "current_thread", "tasks_waiting"]


@dataclass(frozen=True, slots=True)
class LoopInfo:
    """One event loop as the probe keeps it: its `LoopData` (id, implementation, thread) and
    what the hot path needs beside it, each computed once per loop."""

    data: LoopData
    pid: int
    ppid: int
    limiter: CapacityLimiter
    #: Per handler thread: the `x-asgi-lab` header up to the request number, rendered once.
    header_prefixes: dict[int, bytes] = field(default_factory=dict, repr=False, compare=False)
    #: Per handler thread: the record's `HandlerData`, made once and shared by its records.
    handlers: dict[int, HandlerData] = field(default_factory=dict, repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.data.id

    @property
    def thread(self) -> ThreadData:
        return self.data.thread

    def header_prefix(self, thread: ThreadData) -> bytes:
        """`pid=..; loop=..; thread=..; request=<pid>-`: the header but for the request number."""
        prefix = self.header_prefixes.get(thread.native_id)
        if prefix is None:
            facts = HeaderData(self.pid, self.data.id, thread.native_id, request_id(self.pid, 0))
            prefix = facts.render()[: -len("0")].encode()
            self.header_prefixes[thread.native_id] = prefix
        return prefix

    def handler(self, thread: ThreadData) -> HandlerData:
        """`thread` as a record's handler: a threadpool thread unless it is the loop's own."""
        handler = self.handlers.get(thread.native_id)
        if handler is None or handler.thread is not thread:
            in_threadpool = thread.native_id != self.data.thread.native_id
            handler = self.handlers[thread.native_id] = HandlerData(thread, in_threadpool)
        return handler


def tasks_waiting(limiter: CapacityLimiter, borrowed: int, total: float) -> int:
    """Tasks waiting for one of `limiter`'s tokens now (anyio's public statistics), given the
    tokens `borrowed` and `total` the caller has just read (each a property read on the loop)."""
    # A task waits only when every token is out: skip building the statistics (which copy the
    # set of borrowers) on the common path where tokens are free.
    if borrowed < total:
        return 0
    return limiter.statistics().tasks_waiting


# Thread identity never changes while the thread lives, so it is computed once per thread.
_local = threading.local()


def current_thread() -> ThreadData:
    """The calling thread's identity (cached per thread)."""
    try:
        info: ThreadData = _local.info
    except AttributeError:
        t = threading.current_thread()
        info = _local.info = ThreadData(t.name, threading.get_native_id())
    return info


# Loops are numbered in the order we first meet them, so "loop 1 then loop 2" is readable, and the
# pid is part of the id so loops of different workers never compare equal.
_loop_numbers = itertools.count(1)
_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopInfo] = weakref.WeakKeyDictionary()
_loops_lock = threading.Lock()


def _loop_impl(loop: asyncio.AbstractEventLoop) -> str:
    module = type(loop).__module__
    if module.startswith("uvloop"):
        return "uvloop"
    if module.startswith("asyncio"):
        return "asyncio"
    return module.split(".")[0]


def current_loop() -> LoopInfo:
    """The running loop's identity; call it on the loop's own thread."""
    loop = asyncio.get_running_loop()
    info = _loops.get(loop)
    if info is None:
        with _loops_lock:
            info = _loops.get(loop)
            if info is None:
                data = LoopData(
                    f"{os.getpid()}:{next(_loop_numbers)}", _loop_impl(loop), current_thread()
                )
                info = LoopInfo(
                    data=data,
                    pid=os.getpid(),
                    ppid=os.getppid(),
                    # anyio keeps one default limiter per loop; fetching it once saves a lookup
                    # per request. Its total_tokens may still change, and we read it live.
                    limiter=anyio.to_thread.current_default_thread_limiter(),
                )
                _loops[loop] = info
    return info


def _reset_after_fork() -> None:
    # uvicorn spawns its workers, but gunicorn (with --preload) forks them: a forked worker
    # inherits the parent's tables, not its loops or threads, and its main thread has a new tid.
    # The lock too: a parent thread may have held it at the fork, and that thread is gone.
    global _loops, _loop_numbers, _local, _loops_lock
    _loops = weakref.WeakKeyDictionary()
    _loops_lock = threading.Lock()
    _loop_numbers = itertools.count(1)
    _local = threading.local()


os.register_at_fork(after_in_child=_reset_after_fork)
