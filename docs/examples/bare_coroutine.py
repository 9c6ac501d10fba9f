"""Chapter 8: calling an `async def` makes a coroutine and runs nothing; `create_task` (or
`ensure_future`) hands it to the loop. The warning a forgotten coroutine leaves, captured."""

from __future__ import annotations

import asyncio
import gc
import warnings

done: list[str] = []


async def work(name: str) -> str:
    await asyncio.sleep(0.01)
    done.append(name)
    return name


async def main() -> None:
    bare = work("bare")  # a coroutine object: nothing of `work` has run
    print(f"work('bare') gave a {type(bare).__name__}; nothing ran yet: done={done}")

    task = asyncio.create_task(work("task"))  # scheduled: runs at the next await
    future = asyncio.ensure_future(work("ensure_future"))  # a coroutine in, a Task out
    print(f"create_task gave a {type(task).__name__}, ensure_future a {type(future).__name__}")
    print(f"  ensure_future of a task gives it back: {asyncio.ensure_future(task) is task}")

    await asyncio.sleep(0.05)  # the loop gets a turn; nobody awaits the tasks themselves
    print(f"after one await of sleep(0.05): done={done}")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del bare  # the last reference: the coroutine is closed unstarted, and says so
        gc.collect()
    for warning in caught:
        print(f"warning {warning.category.__name__}: {warning.message}")
    print(f"at the end: done={done} ('bare' never ran)")


asyncio.run(main())
