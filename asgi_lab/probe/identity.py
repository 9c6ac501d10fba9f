"""Who is running right now: the process, the event loop and its thread, the current thread."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from anyio import CapacityLimiter


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    """One thread, named by its `native_id`: every anyio worker thread has the same name."""

    name: str
    ident: int
    native_id: int
    #: The `x-asgi-lab-thread` header and the handler's JSON, rendered once per thread.
    header: tuple[bytes, bytes] = field(init=False, repr=False, compare=False)
    json: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "header", (b"x-asgi-lab-thread", str(self.native_id).encode()))
        short = {"name": self.name, "native_id": self.native_id}
        object.__setattr__(self, "json", json.dumps(short, separators=(",", ":")))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ident": self.ident, "native_id": self.native_id}


@dataclass(frozen=True, slots=True)
class LoopInfo:
    """One event loop: a process-unique id, its implementation and the thread it runs on."""

    id: str
    impl: str
    thread: ThreadInfo
    pid: int
    ppid: int
    limiter: CapacityLimiter
    #: The `x-asgi-lab-pid` and `x-asgi-lab-loop` headers and the loop's JSON, rendered once.
    headers: tuple[tuple[bytes, bytes], ...] = field(init=False, repr=False, compare=False)
    json: str = field(init=False, repr=False, compare=False)
    #: JSON fragments per handler thread, filled and read by the JSON-lines writer only.
    fragments: dict[int, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        headers = (
            (b"x-asgi-lab-pid", str(self.pid).encode()),
            (b"x-asgi-lab-loop", self.id.encode()),
        )
        object.__setattr__(self, "headers", headers)
        object.__setattr__(self, "json", json.dumps(self.as_dict(), separators=(",", ":")))

    def waiting(self) -> int:
        """Tasks waiting for a threadpool token right now."""
        # anyio's asyncio limiter keeps its waiters in `_wait_queue`; reading its length is
        # ~20x cheaper than `statistics()`, which copies the set of borrowers on every call.
        queue = getattr(self.limiter, "_wait_queue", None)
        if queue is not None:
            return len(queue)
        return self.limiter.statistics().tasks_waiting

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "impl": self.impl, "thread": self.thread.as_dict()}


# Thread identity never changes while the thread lives, so it is computed once per thread.
_local = threading.local()


def current_thread() -> ThreadInfo:
    """The calling thread's identity (cached per thread)."""
    try:
        info: ThreadInfo = _local.info
    except AttributeError:
        t = threading.current_thread()
        info = _local.info = ThreadInfo(t.name, threading.get_ident(), threading.get_native_id())
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
                info = LoopInfo(
                    id=f"{os.getpid()}:{next(_loop_numbers)}",
                    impl=_loop_impl(loop),
                    thread=current_thread(),
                    pid=os.getpid(),
                    ppid=os.getppid(),
                    # anyio keeps one default limiter per loop; fetching it once saves a lookup
                    # per request. Its total_tokens may still change, and we read it live.
                    limiter=anyio.to_thread.current_default_thread_limiter(),
                )
                _loops[loop] = info
    return info


def _reset_after_fork() -> None:
    # A forked worker inherits the parent's tables, but not its loops or threads.
    global _loops, _loop_numbers, _local
    _loops = weakref.WeakKeyDictionary()
    _loop_numbers = itertools.count(1)
    _local = threading.local()


os.register_at_fork(after_in_child=_reset_after_fork)
