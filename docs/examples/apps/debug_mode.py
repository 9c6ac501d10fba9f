"""The shop app with asyncio's debug mode turned on from inside, at startup.

Under uvicorn on Python 3.11, `PYTHONASYNCIODEBUG=1` does nothing: uvicorn's `asyncio_run`
passes `debug=False` to `asyncio.Runner`, which turns the loop's debug mode off again. So the
app turns it on itself when its worker starts, as you would have to.
"""

from __future__ import annotations

import asyncio

from asgi_lab.lab.apps.shop import app as shop
from asgi_lab.types import Receive, Scope, Send


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        asyncio.get_running_loop().set_debug(True)  # what PYTHONASYNCIODEBUG=1 should have done
    await shop(scope, receive, send)
