"""Bounds on the work one request can cause: how many may block the loop at once, how many
background jobs may be pending, and how many bytes `/_lab/records` may answer.

A request past a cap is refused at once with a 503, a `Retry-After` and a JSON body naming the
cap and the setting that sets it (`Overloaded`); every layer answers it alike. The counts are per
worker process, like the loop and the threadpool they protect.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from asgi_lab.settings import VARIABLES

__all__ = ["BACKGROUND", "BLOCKING", "RETRY_AFTER", "Cap", "Overloaded"]

#: Seconds a refused client is asked to wait before trying again.
RETRY_AFTER = 1


class Overloaded(Exception):
    """A request past a cap; every layer answers it with a 503 naming the cap and its setting."""

    def __init__(self, what: str, cap: int, setting: str) -> None:
        self.what, self.cap, self.setting = what, cap, setting
        super().__init__(f"at most {cap} {what} at once per worker (${setting}); try again later")

    def detail(self) -> dict[str, Any]:
        return {"detail": str(self), "cap": self.cap, "setting": self.setting}

    def headers(self) -> dict[str, str]:
        return {"retry-after": str(RETRY_AFTER)}


class Cap:
    """A count of work in progress, refused past a limit read from a setting at each use."""

    def __init__(self, what: str, field: str) -> None:
        self.what = what
        self.field = field
        self.setting = VARIABLES[field]
        self.active = 0
        # Background jobs end on worker threads: the count is shared across threads.
        self._lock = threading.Lock()

    def acquire(self, limit: int) -> None:
        """Count one more, or raise `Overloaded` when `limit` are already counted."""
        with self._lock:
            if self.active >= limit:
                raise Overloaded(self.what, limit, self.setting)
            self.active += 1

    def release(self) -> None:
        with self._lock:
            self.active -= 1

    @asynccontextmanager
    async def admitted(self, limit: int) -> AsyncIterator[None]:
        """Hold one place while the block runs.

        A request that blocks the loop runs to its end in one step, so the count would never
        pass one: the yield after counting lets every request already received count itself
        first, and the cap then bounds how many queue up to block the loop one after another.
        """
        self.acquire(limit)
        try:
            await asyncio.sleep(0)
            yield
        finally:
            self.release()


#: Requests blocking the loop (`/async/block`), queued or running.
BLOCKING = Cap("requests blocking the loop", "max_blocking")
#: Background jobs (`/background` on routes) accepted and not yet finished.
BACKGROUND = Cap("background jobs", "max_background")
