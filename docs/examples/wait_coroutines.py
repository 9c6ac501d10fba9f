"""Chapter 8: `asyncio.wait([coroutine, ...])`, as many tutorials still write it, on this Python;
then the fix, tasks. What it raised and what it warned, captured, not remembered."""

from __future__ import annotations

import asyncio
import gc
import sys
import time
import warnings


async def job(name: str, seconds: float) -> str:
    await asyncio.sleep(seconds)
    return name


async def the_tutorial_way() -> None:
    # Python 3.7's tutorials: wait() wrapped bare coroutines in tasks itself (deprecated in 3.8).
    done, _ = await asyncio.wait([job("a", 0.1), job("b", 0.05)])  # type: ignore[list-item]
    print(f"    -> {sorted(t.result() for t in done)}")


async def with_tasks() -> None:
    started = time.perf_counter()
    tasks = [asyncio.create_task(job("a", 0.1)), asyncio.create_task(job("b", 0.05))]
    done, pending = await asyncio.wait(tasks)
    took = time.perf_counter() - started
    print(f"    -> {len(done)} done, {len(pending)} pending in {took:.2f} s (the longest)")
    print(f"    results in the order you made them: {[t.result() for t in tasks]}")


def attempt(title: str, step: object) -> None:
    print(title)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            asyncio.run(step)  # type: ignore[arg-type]
        except TypeError as exc:  # the point is to see it
            print(f"    raised TypeError: {exc}")
        gc.collect()  # the coroutines wait() refused are collected here, and warn here
    for warning in caught:
        print(f"    warning {warning.category.__name__}: {warning.message}")


print(f"Python {sys.version.split()[0]}")
attempt("1. asyncio.wait([job('a', 0.1), job('b', 0.05)])", the_tutorial_way())
attempt("2. the same with tasks: asyncio.wait([create_task(...), ...])", with_tasks())
