"""A FastAPI app whose startup blocks the loop in its own function (as LNbits' and Mealie's do,
building routers and the database before the first request)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

STARTUP_S = 0.3


def load_catalogue() -> None:
    time.sleep(STARTUP_S)  # BLOCKS the loop at startup


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    load_catalogue()
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}
