"""A worker that SIGTERM would kill outright writes its records first, then dies of it.

Theory of operation
-------------------
How a worker ends is its server's choice. uvicorn, granian and daphne catch SIGTERM and shut
down through lifespan, where the probe closes its writer (`middleware.aclose`). hypercorn's
workers leave SIGTERM at the default (they wait for their supervisor's shutdown event instead),
and its supervisor, when one worker dies, sets that event and at once SIGTERMs every other
worker (`process.terminate()`), and SIGTERMs them again at its own exit: the survivors die
before their lifespan shutdown, and whatever their writer still held (up to its `interval` of
answered requests) never reached the trace.

So when the probe starts on a process's main thread, and the kernel says SIGTERM would kill
that process outright (neither caught, by Python or native code, nor ignored: `procfs`), it
installs a handler. On SIGTERM the handler closes every running `RecordWriter` of the process
within `FLUSH_SECONDS` in all, then puts the default back and sends itself SIGTERM again: the
worker still dies of the signal its server sent, only that much later. Python runs the handler
on the main thread between two bytecodes (the loop's thread under hypercorn, which is ending);
a second SIGTERM meanwhile finds the handler at work and changes nothing.

What this cannot save: records of requests still running (they never answered), anything a
SIGKILL ends, and a worker whose SIGTERM is caught by someone else (then it is theirs to flush).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import weakref
from types import FrameType
from typing import Protocol

from asgi_lab import procfs

__all__ = ["FLUSH_SECONDS", "install", "installed", "register", "unregister"]

#: The longest a SIGTERM waits for the writers before the worker dies of it.
FLUSH_SECONDS = 1.0


class _Closing(Protocol):
    def close(self, timeout: float = ...) -> None: ...


_writers: weakref.WeakSet[_Closing] = weakref.WeakSet()
_installed = False
_ending = False


def register(writer: _Closing) -> None:
    """A writer whose thread runs: a SIGTERM closes it first (any thread)."""
    _writers.add(writer)


def unregister(writer: _Closing) -> None:
    """A writer closed by other means."""
    _writers.discard(writer)


def installed() -> bool:
    """Whether this process's SIGTERM goes through our handler."""
    return _installed


def install() -> bool:
    """Install the handler if SIGTERM would kill this process outright; True if it is ours.

    Only on the main thread (where Python runs signal handlers); elsewhere, or where /proc
    cannot say, nothing changes.
    """
    global _installed
    if _installed:
        return True
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return False
    if procfs.disposition(os.getpid(), signal.SIGTERM) != "default":
        return False
    signal.signal(signal.SIGTERM, _on_sigterm)
    _installed = True
    return True


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _ending
    if _ending:
        return  # a second SIGTERM while the writers close: the first one's bound holds
    _ending = True
    deadline = time.monotonic() + FLUSH_SECONDS
    try:
        for writer in list(_writers):
            writer.close(max(0.0, deadline - time.monotonic()))
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
