"""nodelay: a keep-alive client against a socket without TCP_NODELAY waits ~40 ms per request.

uvicorn writes a response in two `send()` calls: the head on `http.response.start`, the body on
`http.response.body`. Without TCP_NODELAY, Nagle's algorithm holds the body back until the
head is acknowledged, and the client delays that ACK (Linux: at least 40 ms) hoping to piggyback
it on data it never sends. uvicorn sets TCP_NODELAY on sockets it binds itself, not on one
passed with `--fd`; `asgi_lab.serving` sets it on the listening socket, and accepted sockets
inherit it.

Whether a server's client waits without TCP_NODELAY is the server's own property: hypercorn's
did not in our runs (no 40 ms, on the same socket uvicorn's client waits on), and granian binds
its own socket, so that phase cannot run under it. Each is judged as measured (`WAITS`).
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
#: Whether each server's keep-alive client waits for a delayed ACK on a socket without
#: TCP_NODELAY, as measured; None: the server binds its own socket, the phase cannot run.
WAITS: dict[str, bool | None] = {"uvicorn": True, "hypercorn": False, "granian": None}


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
    name = ctx.server_name
    waits = WAITS.get(name, True)
    phases = {False: "without TCP_NODELAY", True: "with TCP_NODELAY"}
    if waits is None:
        del phases[False]
        ctx.fact(f"{name} binds its own socket", "the phase without TCP_NODELAY cannot run")
    medians: dict[bool, float] = {}
    for nodelay, phase in phases.items():
        with ctx.server(phase, nodelay=nodelay) as server:
            ctx.step(f"{phase}: {n} keep-alive GET /quick")
            medians[nodelay] = statistics.median(keep_alive(server.url, n))
    app_times = {
        nodelay: statistics.median(r.duration_ns for r in ctx.records(phase)) / 1e9
        for nodelay, phase in phases.items()
    }
    if waits:
        ctx.check(
            at_least(
                "without TCP_NODELAY: median per request",
                medians[False],
                DELAYED_ACK,
                note="Linux delayed-ACK minimum, 40 ms",
            )
        )
    elif waits is False:
        ctx.check(
            at_most(
                f"without TCP_NODELAY: median per request ({name} does not wait)",
                medians[False],
                app_times[False] + SUB_MILLISECOND,
                note=f"the app's own time + 1 ms: {name}'s client waits for no delayed ACK",
            )
        )
    ctx.check(
        at_most(
            "with TCP_NODELAY: median per request",
            medians[True],
            app_times[True] + SUB_MILLISECOND,
            note="the app's own time + 1 ms: nothing waits in TCP",
        )
    )
    for nodelay, phase in phases.items():
        # Without TCP_NODELAY the app is no slower than with it: any wait is in TCP.
        bound = SUB_MILLISECOND if nodelay else app_times[True] + SUB_MILLISECOND
        ctx.check(
            at_most(
                f"{phase}: median time inside the app",
                app_times[nodelay],
                bound,
                note=""
                if nodelay
                else "the app's time with TCP_NODELAY + 1 ms: the wait is in TCP"
                if waits
                else "the app's time with TCP_NODELAY + 1 ms",
            )
        )
    if False in medians:
        ctx.fact("slow-down without TCP_NODELAY", f"{medians[False] / medians[True]:.0f}x")
