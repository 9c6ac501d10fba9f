"""A user's tiny FastAPI app: one endpoint on the loop, one in the threadpool, one mistake."""

from __future__ import annotations

import time

from fastapi import FastAPI

__all__ = ["app"]

app = FastAPI()


@app.get("/async")
async def read_async() -> dict[str, str]:
    return {"ran": "on the loop"}


@app.get("/sync")
def read_sync() -> dict[str, str]:
    return {"ran": "in the threadpool"}


@app.get("/blocking")
async def read_blocking() -> dict[str, str]:
    time.sleep(0.2)  # noqa: ASYNC251 - the mistake asgi_lab.testing is there to catch
    return {"ran": "on the loop, blocking it"}
