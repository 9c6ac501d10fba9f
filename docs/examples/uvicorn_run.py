"""Chapter 8: uvicorn's `Server.run` is an `asyncio.run`. Its source, read from the installed
uvicorn, then a real server on a loopback port 0 that reports the loop it was given and leaves."""

from __future__ import annotations

import asyncio
import inspect
import sys
import textwrap
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import uvicorn
from uvicorn import _compat
from uvicorn.server import Server

from asgi_lab.types import Receive, Scope, Send


def show(function: Callable[..., object]) -> None:
    """A function's source as installed, with its file (from its top-level package on) and lines:
    `asyncio_run` is uvicorn's own on 3.11 but asyncio's `asyncio.run` from 3.12 on."""
    lines, first = inspect.getsourcelines(function)
    path = Path(inspect.getsourcefile(function) or "?")
    package = sys.modules[function.__module__.partition(".")[0]]
    where = path.relative_to(Path(package.__file__ or "?").parent.parent).as_posix()
    print(f"# {where}:{first}-{first + len(lines) - 1}")
    print(textwrap.dedent("".join(lines)).rstrip())
    print()


print(f"uvicorn {uvicorn.__version__}, Python {sys.version.split()[0]}\n")
show(Server.run)
show(_compat.asyncio_run)
print("asyncio_run is asyncio.run:", _compat.asyncio_run is asyncio.run)
print()

server: Server
seen: list[asyncio.AbstractEventLoop] = []


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Only a lifespan: on startup, say where it runs, then ask the server to leave."""
    if scope["type"] != "lifespan":
        return
    await receive()  # lifespan.startup
    loop = asyncio.get_running_loop()
    seen.append(loop)
    task = asyncio.current_task()
    print(f"inside Server.run: loop {type(loop).__name__}, debug={loop.get_debug()}")
    print(
        f"  on thread {threading.current_thread().name}, in task {task.get_name() if task else '?'}"
    )
    print(f"  main thread's loop is the running one: {asyncio.get_event_loop() is loop}")
    await send({"type": "lifespan.startup.complete"})
    server.should_exit = True
    await receive()  # lifespan.shutdown
    await send({"type": "lifespan.shutdown.complete"})


config = uvicorn.Config(app, host="127.0.0.1", port=0, loop="asyncio", log_level="warning")
server = Server(config)
server.run()
print(f"after Server.run: its loop is closed: {seen[0].is_closed()}")
# A loop_factory Runner never set a current loop: the policy makes one (3.11), with a
# DeprecationWarning (3.12, 3.13); from 3.14 on, get_event_loop() raises instead.
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        after = asyncio.get_event_loop()
    except RuntimeError as error:
        print(f"  get_event_loop() now raises: {error}")
    else:
        print(
            f"  get_event_loop() now gives the same loop: {after is seen[0]},"
            f" closed: {after.is_closed()}"
        )
        after.close()
for warning in caught:
    print(f"  ({warning.category.__name__}: {warning.message})")
