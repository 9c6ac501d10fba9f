"""nodelay: a keep-alive client against a socket without TCP_NODELAY waits ~40 ms per request.

uvicorn writes a response in two `send()` calls: the head on `http.response.start`, the body on
`http.response.body`. Without TCP_NODELAY, Nagle's algorithm holds the body back until the
head is acknowledged, and the client delays that ACK (Linux: at least 40 ms) hoping to piggyback
it on data it never sends. uvicorn sets TCP_NODELAY on sockets it binds itself, not on one
passed with `--fd`; `asgi_lab.serving` sets it on the listening socket, and accepted sockets
inherit it.
"""

from __future__ import annotations

import statistics

from asgi_lab.lab.clients import SyncClient
from asgi_lab.lab.harness import Context, experiment
from asgi_lab.lab.verdicts import at_least, at_most

__all__ = ["run"]

#: Linux's minimum delayed-ACK timeout (TCP_DELACK_MIN, HZ/25).
DELAYED_ACK = 0.040
SUB_MILLISECOND = 0.001
REQUESTS = 20


def keep_alive(url: str, n: int) -> list[float]:
    """Seconds for each of `n` requests on one warm keep-alive connection."""
    with SyncClient(url) as client:
        client.get("/quick")
        return [client.get("/quick").seconds for _ in range(n)]


@experiment(
    "nodelay",
    title="keep-alive without TCP_NODELAY: ~40 ms a request (Nagle + delayed ACK); with: ~app time",
    chapter="01-the-loop",
    tiny_scale=0.25,
    tour_scale=1.5,
)
def run(ctx: Context) -> None:
    n = max(5, round(REQUESTS * ctx.scale))
    medians: dict[bool, float] = {}
    for nodelay in (False, True):
        phase = "with TCP_NODELAY" if nodelay else "without TCP_NODELAY"
        with ctx.server(phase, nodelay=nodelay) as server:
            ctx.step(f"{phase}: {n} keep-alive GET /quick")
            medians[nodelay] = statistics.median(keep_alive(server.url, n))
    ctx.check(
        at_least(
            "without TCP_NODELAY: median per request",
            medians[False],
            DELAYED_ACK,
            note="Linux delayed-ACK minimum, 40 ms",
        )
    )
    app_times = {
        nodelay: statistics.median(
            r.duration_ns
            for r in ctx.records("with TCP_NODELAY" if nodelay else "without TCP_NODELAY")
        )
        / 1e9
        for nodelay in (False, True)
    }
    ctx.check(
        at_most(
            "with TCP_NODELAY: median per request",
            medians[True],
            app_times[True] + SUB_MILLISECOND,
            note="the app's own time + 1 ms: nothing waits in TCP",
        )
    )
    for nodelay in (False, True):
        phase = "with TCP_NODELAY" if nodelay else "without TCP_NODELAY"
        # Without TCP_NODELAY the app is no slower than with it: the 40 ms wait is in TCP.
        bound = SUB_MILLISECOND if nodelay else app_times[True] + SUB_MILLISECOND
        ctx.check(
            at_most(
                f"{phase}: median time inside the app",
                app_times[nodelay],
                bound,
                note=""
                if nodelay
                else "the app's time with TCP_NODELAY + 1 ms: the wait is in TCP",
            )
        )
    ctx.fact("slow-down without TCP_NODELAY", f"{medians[False] / medians[True]:.0f}x")
