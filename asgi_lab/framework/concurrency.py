"""How many calls of a dependency run at once, and how a sync generator is run from the loop.

`Depends(get_db, max_concurrency=5)` gives that declaration a `Limit`: a semaphore per event loop
(each worker process and each test loop has its own), taken on the loop *before* the call hops
to a worker thread. A sixth request therefore waits as a task, holding no thread; without it,
more requests than a pool has connections each take a worker thread and block in it, and when
the threadpool is the bigger of the two that is how a connection pool deadlocks the app.
"""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager
from typing import TypeVar
from weakref import WeakKeyDictionary

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from starlette.concurrency import run_in_threadpool

__all__ = ["Limit", "in_threads", "limited"]

T = TypeVar("T")

# One semaphore per limit and per event loop; forgotten with the limit's declaration.
_semaphores: RunVar["WeakKeyDictionary[Limit, anyio.Semaphore]"] = RunVar("asgi_lab_limits")


class Limit:
    """At most `max_concurrency` calls at once, counted per event loop."""

    def __init__(self, max_concurrency: int) -> None:
        self.max_concurrency = max_concurrency

    def semaphore(self) -> anyio.Semaphore:
        """This loop's semaphore for the limit, made on first use."""
        table = _semaphores.get(None)
        if table is None:
            table = WeakKeyDictionary()
            _semaphores.set(table)
        found = table.get(self)
        if found is None:
            found = table[self] = anyio.Semaphore(self.max_concurrency)
        return found


@asynccontextmanager
async def in_threads(cm: AbstractContextManager[T]) -> AsyncIterator[T]:
    """Enter and exit a sync context manager in worker threads, as FastAPI does."""
    # __exit__ has a limiter of its own: waiting on a full pool to give a resource back deadlocks.
    exit_limiter = anyio.CapacityLimiter(1)
    value = await run_in_threadpool(cm.__enter__)
    try:
        yield value
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            suppress = await anyio.to_thread.run_sync(
                cm.__exit__, type(exc), exc, exc.__traceback__, limiter=exit_limiter
            )
        if not suppress:
            raise
    else:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(cm.__exit__, None, None, None, limiter=exit_limiter)


@asynccontextmanager
async def limited(
    cm: AbstractAsyncContextManager[T], semaphore: anyio.Semaphore
) -> AsyncIterator[T]:
    """Hold `semaphore` from before the context manager is entered until after it exits."""
    async with semaphore:
        async with cm as value:
            yield value
