"""Chapter 8: three jobs of 0.15, 0.05 and 0.10 s, awaited one by one and together
(`gather`, `wait`, `as_completed`, `TaskGroup`); then the 0.05 s one fails. Timed, not told."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

JOBS = {"a": 0.15, "b": 0.05, "c": 0.10}  # name: seconds; all sleep, so they can overlap
started = time.perf_counter()


def clock() -> str:
    return f"{time.perf_counter() - started:5.2f} s"


async def job(name: str, fail: bool = False) -> str:
    await asyncio.sleep(JOBS[name])
    if fail:
        raise ValueError(f"{name} failed")
    return name


def spawn(failing: str = "") -> list[asyncio.Task[str]]:
    return [asyncio.create_task(job(n, n == failing), name=n) for n in JOBS]


def states(tasks: Iterable[asyncio.Task[str]]) -> str:
    def state(t: asyncio.Task[str]) -> str:
        if not t.done():
            return "running"
        if t.cancelled():
            return "cancelled"
        return f"raised {t.exception()!r}" if t.exception() else f"returned {t.result()!r}"

    return ", ".join(f"{t.get_name()} {state(t)}" for t in tasks)


async def together() -> None:
    global started
    print("== all succeed")
    started = time.perf_counter()
    for name in JOBS:
        await job(name)
    print(f"awaited one by one:   {clock()}  (the sum)")

    started = time.perf_counter()
    done, pending = await asyncio.wait(spawn())
    print(f"asyncio.wait:         {clock()}  (the longest); a set, no order: {len(done)} done")

    started = time.perf_counter()
    results = await asyncio.gather(*(job(n) for n in JOBS))
    print(f"asyncio.gather:       {clock()}  results in argument order {results}")

    started = time.perf_counter()
    order = [await next_one for next_one in asyncio.as_completed([job(n) for n in JOBS])]
    print(f"asyncio.as_completed: {clock()}  results in finishing order {order}")

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(job(n)) for n in JOBS]
    print(
        f"asyncio.TaskGroup:    {clock()}  results as you kept them {[t.result() for t in tasks]}"
    )


async def settle(tasks: list[asyncio.Task[str]]) -> None:
    """Let whatever still runs finish (bounded), so that no task outlives its example."""
    await asyncio.wait(tasks, timeout=1)
    print(f"    {clock()}  later: {states(tasks)}")


async def first_failure() -> None:
    global started
    print("\n== b fails after 0.05 s")
    started = time.perf_counter()
    tasks = spawn(failing="b")
    try:
        await asyncio.gather(*tasks)
    except ValueError as exc:
        print(f"gather raised at {clock()}: {exc!r}")
        print(f"    {states(tasks)}")
    await settle(tasks)

    started = time.perf_counter()
    tasks = spawn(failing="b")
    results = await asyncio.gather(*tasks, return_exceptions=True)
    print(f"gather(return_exceptions=True) at {clock()}: {results}")

    started = time.perf_counter()
    tasks = spawn(failing="b")
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    print(f"wait(FIRST_EXCEPTION) returned at {clock()}: {len(done)} done, {len(pending)} pending")
    print(f"    {states(tasks)}")
    await settle(tasks)

    started = time.perf_counter()
    tasks = spawn(failing="b")
    try:
        for next_one in asyncio.as_completed(tasks):
            print(f"as_completed gave {await next_one!r} at {clock()}")
    except ValueError as exc:
        print(f"as_completed raised at {clock()}: {exc!r}")
        print(f"    {states(tasks)}")
    await settle(tasks)

    started = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(job(n, n == "b"), name=n) for n in JOBS]
    except* ValueError as group_error:
        print(f"TaskGroup raised at {clock()}: {group_error.exceptions!r}")
        print(f"    {states(tasks)}")


asyncio.run(together())
asyncio.run(first_failure())
