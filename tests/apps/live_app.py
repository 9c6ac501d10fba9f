"""What the live page is tested on: a `def` endpoint that holds a threadpool thread, and an `async
def` that blocks its loop. The blocking line ends with `# BLOCKS`; the test finds it there."""

from __future__ import annotations

import time

from fastapi import FastAPI

#: The longest a request may ask to hold a thread or the loop: every load stays bounded.
LONGEST = 5.0

app = FastAPI()


@app.get("/hold")
def hold(seconds: float = 1.0) -> dict[str, float]:
    """Keeps one of the threadpool's threads (tokens) for `seconds`."""
    time.sleep(min(seconds, LONGEST))
    return {"held": seconds}


@app.get("/block")
async def block(seconds: float = 0.8) -> dict[str, float]:
    """Stops the whole loop for `seconds`: the mistake the page should name."""
    time.sleep(min(seconds, LONGEST))  # BLOCKS
    return {"blocked": seconds}
