"""find-the-blocker: an app shaped like a real one hides one blocking call; the watchdog names
the request and the line, blames no bystander, and tells each bystander how long it waited.

The app (`asgi_lab/lab/apps/shop.py`) is served the way a user serves their own app, through
`asgi-lab trace`'s wrapper. Bystanders are `/items/ticker` requests that await 5 ms at a time,
so they are ready to run through any stall: their extra latency, against the same load without
the blocking call, is what the stall cost them, and what `waited_on` should say.
"""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path

from asgi_lab.lab.apps import shop
from asgi_lab.lab.clients import AsyncClient, Reply
from asgi_lab.lab.harness import Context, experiment
from asgi_lab.lab.verdicts import exactly, near
from asgi_lab.settings import Settings

__all__ = ["find_the_blocker"]

TICKS = 160  # 0.8 s of 5 ms awaits: long enough to straddle the block
BYSTANDERS = 3
BLOCK_MS = 100.0


async def together(client: AsyncClient, culprit: bool) -> tuple[list[Reply], Reply | None]:
    """The bystanders, a list and an export at once, and (if `culprit`) the hidden block."""
    ticker = f"/items/ticker?ticks={TICKS}"
    bystanders = [asyncio.ensure_future(client.get(ticker)) for _ in range(BYSTANDERS)]
    others = [asyncio.ensure_future(client.get(p)) for p in ("/items/list", "/reports/export")]
    blocked = None
    if culprit:
        await asyncio.sleep(0.2)  # pacing, not synchronisation: the records say what overlapped
        blocked = await client.get("/reports/daily")
    done = await asyncio.gather(*bystanders)
    await asyncio.gather(*others)
    return list(done), blocked


async def traffic(url: str) -> tuple[list[Reply], list[Reply], Reply]:
    """The same load twice: without the culprit (the baseline), then with it."""
    async with AsyncClient(url) as client:
        # Warm: the first request imports, and every connection the load needs opens now, so
        # neither run pays for a connect (the baseline did, for 4 of its 5 requests).
        await asyncio.gather(*(client.get("/items/list") for _ in range(BYSTANDERS + 2)))
        alone, _ = await together(client, culprit=False)
        during, culprit = await together(client, culprit=True)
        assert culprit is not None
        return alone, during, culprit


@experiment(
    "find-the-blocker",
    title="one time.sleep hidden in an async route: the watchdog names request and line",
    chapter="12-finding-the-blocker",
    tiny_scale=1.0,
    serves="the shop app on the wrapper (Layer 2), under asgi-lab trace",
)
def find_the_blocker(ctx: Context) -> None:
    settings = Settings(app="asgi_lab.lab.apps.shop:app", block_ms=BLOCK_MS)
    with ctx.server("traced", "asgi_lab.trace.app:app", settings=settings, factory=True) as server:
        tick = f"{shop.TICK * 1e3:g} ms"
        ctx.step(f"{BYSTANDERS} tickers of {TICKS} x {tick}; again with GET /reports/daily")
        alone, tickers, culprit_reply = asyncio.run(traffic(server.url))
    records = ctx.records("traced")
    culprit = ctx.record_of(culprit_reply)
    blamed = [r for r in records if r.blocks]
    ctx.check(exactly("requests blamed for a stall", len(blamed), 1))
    ctx.check(exactly("the one blamed is GET /reports/daily", int(blamed == [culprit]), 1))
    block = culprit.blocks[0] if culprit.blocks else None
    here = block is not None and Path(block.file).name == "shop.py"
    ctx.check(
        exactly(
            f"the line named is shop.py:{shop.BLOCK_LINE}",
            int(here and block is not None and block.line == shop.BLOCK_LINE),
            1,
        )
    )
    if block is not None:
        ctx.check(
            near("the stall lasted as long as the hidden call", block.ms / 1000, shop.BLOCK_SECONDS)
        )
        ctx.fact(
            "watchdog",
            f"{block.ms:.0f} ms at {block.frame.where()}",
        )
    bystanders = [r for r in records if r is not culprit]
    ctx.check(exactly("bystanders blamed", sum(1 for r in bystanders if r.blocks), 0))
    # The same three tickers, the same list and export, without the culprit: what they take
    # when they only compete with each other.
    baseline = statistics.median(reply.seconds for reply in alone)
    for i, reply in enumerate(tickers, 1):
        record = ctx.record_of(reply)
        waited = sum(w.ms for w in record.waited_on if w.request == culprit.id) / 1000
        extra = reply.seconds - baseline
        ctx.check(
            near(
                f"ticker {i}: waited_on = its extra latency",
                waited,
                extra,
                note=f"extra = {reply.seconds * 1e3:.0f} ms - {baseline * 1e3:.0f} ms alone",
            )
        )
