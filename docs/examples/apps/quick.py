"""Chapter 3: the quickest endpoint there is, on FastAPI itself, as `async def` and as `def`.

Each answer names the thread that ran it, which is all the work either does: the `def` one is
sent to the anyio threadpool and back, the `async def` one runs on the loop. No probe: what is
measured is FastAPI's own cost of each choice.
"""

from __future__ import annotations

import threading

from fastapi import FastAPI

app = FastAPI()


@app.get("/quick/async")
async def quick_async() -> dict[str, str]:
    return {"thread": threading.current_thread().name}


@app.get("/quick/def")
def quick_def() -> dict[str, str]:
    return {"thread": threading.current_thread().name}
