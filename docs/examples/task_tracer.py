"""Chapter 8: the loop instrumented, as trio's tutorial does it: a task factory wraps every
task's coroutine so that each step the loop gives a task is printed, with what it waits on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")
started = time.perf_counter()


def describe(waiting_on: object) -> str:
    """What a step handed back to the loop: a future to wait on, or a bare yield."""
    if waiting_on is None:
        return "yields (sleep(0)): back in the ready queue"
    return f"waits on a {type(waiting_on).__name__}"


class Traced(Coroutine[Any, Any, T]):
    """A coroutine in front of another: the loop drives this one, it prints every step.

    A Task drives its coroutine with `send()` and `throw()` only, one step per turn of the
    loop, so those two calls are every step the task gets; nothing asyncio keeps private is read.
    """

    def __init__(self, inner: Coroutine[Any, Any, T]) -> None:
        self.inner = inner
        self.task: asyncio.Task[T] | None = None  # known once the task exists

    @property
    def name(self) -> str:
        task = self.task.get_name() if self.task else "?"
        return f"{task} ({getattr(self.inner, '__name__', '?')})"

    def _step(self, how: str, go: Any, *args: Any) -> Any:
        at = f"{(time.perf_counter() - started) * 1000:6.1f} ms"
        try:
            waiting_on = go(*args)
        except StopIteration as stop:
            print(f"{at}  {self.name:<34} {how:<11} returns {stop.value!r}")
            raise
        except BaseException as exc:
            print(f"{at}  {self.name:<34} {how:<11} raises {type(exc).__name__}")
            raise
        print(f"{at}  {self.name:<34} {how:<11} {describe(waiting_on)}")
        return waiting_on

    def send(self, value: Any) -> Any:
        return self._step("step", self.inner.send, value)

    def throw(self, *args: Any) -> Any:
        return self._step("throw into", self.inner.throw, *args)

    def close(self) -> None:
        self.inner.close()

    def __await__(self) -> Generator[Any, None, T]:
        return self.inner.__await__()


def tracing_factory(
    loop: asyncio.AbstractEventLoop,
    coro: Generator[Any, None, T] | Coroutine[Any, Any, T],
    /,
    **kwargs: Any,
) -> asyncio.Task[T]:
    """Every task the loop creates from here on, its coroutine wrapped in a tracer."""
    if not isinstance(coro, Coroutine):  # Python 3.11 tasks take coroutines only
        raise TypeError(f"a task needs a coroutine, got {coro!r}")
    traced = Traced(coro)
    # The loop names the task after the factory returns, so the tracer asks it at each step.
    traced.task = asyncio.Task(traced, loop=loop, **kwargs)
    return traced.task


async def sleeper(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return f"slept {seconds}"


async def spinner() -> str:
    for _ in range(2):
        await asyncio.sleep(0)  # gives the loop a turn without waiting for anything
    return "spun"


async def main() -> None:
    global started
    loop = asyncio.get_running_loop()
    loop.set_task_factory(tracing_factory)
    started = time.perf_counter()
    long = asyncio.create_task(sleeper(0.02), name="long")
    short = asyncio.create_task(sleeper(0.01), name="short")
    spin = asyncio.create_task(spinner(), name="spin")
    late = asyncio.create_task(sleeper(1), name="late")
    print(await asyncio.gather(long, short, spin))
    late.cancel()
    await asyncio.wait([late])


asyncio.run(main())
