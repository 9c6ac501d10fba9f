"""Chapter 8: `asyncio.run` against the old `get_event_loop()` / `run_until_complete()` /
`close()`, with every warning the interpreter raised captured and printed, not remembered."""

from __future__ import annotations

import asyncio
import sys
import threading
import warnings
from collections.abc import Callable

#: Every loop seen, kept alive so that two loops are never mistaken for one (ids get reused).
LOOPS: list[asyncio.AbstractEventLoop] = []


async def answer() -> str:
    loop = asyncio.get_running_loop()
    if loop not in LOOPS:
        LOOPS.append(loop)
    return f"ran on loop #{LOOPS.index(loop) + 1} ({type(loop).__name__}, debug={loop.get_debug()})"


def attempt(title: str, step: Callable[[], object]) -> None:
    """Run one step, print what it returned or raised and every warning it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # DeprecationWarning is hidden by default: show it
        try:
            outcome = f"-> {step()}"
        except Exception as exc:  # the point is to see it
            outcome = f"raised {type(exc).__name__}: {exc}"
    print(f"{title}\n    {outcome}")
    for warning in caught:
        print(f"    warning {warning.category.__name__}: {warning.message}")
    if not caught:
        print("    (no warning)")


def the_old_way() -> str:
    loop = asyncio.get_event_loop()  # no loop is running: the policy makes one, or raises
    result = loop.run_until_complete(answer())
    loop.close()  # the loop stays the thread's "current" loop, now closed
    return result


def in_a_new_thread(step: Callable[[], object]) -> None:
    thread = threading.Thread(target=attempt, args=("  in a new thread:", step), name="other")
    thread.start()
    thread.join(timeout=5)


print(f"Python {sys.version.split()[0]}")
attempt("1. the old way: get_event_loop(), run_until_complete(), close()", the_old_way)
attempt("2. the old way again, on the same thread", the_old_way)
attempt("3. asyncio.run(answer())", lambda: asyncio.run(answer()))
attempt("4. get_event_loop() after asyncio.run", asyncio.get_event_loop)
attempt("5. asyncio.run(answer()) again: a new loop each time", lambda: asyncio.run(answer()))
in_a_new_thread(asyncio.get_event_loop)
in_a_new_thread(lambda: asyncio.run(answer()))
