"""`asgi-lab top URL`: a running live page drawn in the terminal, a table per worker.

It reads the page's own feed (`feed.frames`), so it shows what the page shows, from wherever the
page can be reached, and costs the workers nothing more than one more page open. rich's `Live`
redraws on each frame; `frames` bounds the run (what a test or a script wants), Ctrl-C ends it.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from asgi_lab.live.feed import frames as feed

__all__ = ["board", "run", "worker"]


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"


def _pools(snapshot: dict[str, Any]) -> str:
    shown = []
    for pool in snapshot["pools"]:
        size = "?" if pool["size"] is None else f"{pool['size']:g}"
        name = "anyio threads" if pool["name"] == "anyio" else pool["name"]
        queued = f", {pool['queued']} queued" if pool["queued"] else ""
        shown.append(f"{name}: {pool['busy']}/{size} busy{queued}")
    return "\n".join(shown) or "-"


def _stall(stall: dict[str, Any]) -> str:
    who = f"{stall['method']} {stall['path']}" if stall["request"] else "no request"
    return f"{_ms(stall['ms'])} {who}" + (f" at {stall['line']}" if stall["line"] else "")


def worker(shown: dict[str, Any]) -> Table:
    """One worker of a frame: its state in the title, a row per thing the page shows."""
    snapshot = shown["snapshot"]
    state = shown["state"]
    if state == "gone" and shown["successor"]:
        state += f" -> {shown['successor']}"
    if shown["succeeds"]:
        state += f", took over from {shown['succeeds']}"
    table = Table(
        title=f"worker {shown['pid']} ({state})",
        title_justify="left",
        show_header=False,
        expand=True,
        style="dim" if shown["state"] == "gone" else "",
    )
    table.add_column(style="bold", no_wrap=True, width=14)
    table.add_column(overflow="fold")
    table.add_row("in flight", str(snapshot["in_flight"]))
    table.add_row("pools", _pools(snapshot))
    for loop in snapshot["loops"]:
        lag = "-" if loop["lag_ms"] is None else f"{loop['lag_ms']:.1f} ms"
        table.add_row("loop lag", f"{lag} ({loop['impl']} loop {loop['id']})")
        if loop["stall"]:
            table.add_row(Text("STALLED", style="bold red"), _stall(loop["stall"]))
    stalls = snapshot["stalls"]
    table.add_row("stalls", "\n".join(_stall(s) for s in reversed(stalls)) or "none")
    table.add_row("req/s", f"{snapshot['rps']:.0f} ({snapshot['requests_total']} in all)")
    return table


def board(frame: dict[str, Any]) -> RenderableType:
    """A whole frame: a summary line, then every worker shown, in the page's order."""
    live = [w for w in frame["workers"] if w["state"] == "live"]
    restarts = sum(1 for w in frame["workers"] if w["succeeds"])
    rps = sum(w["snapshot"]["rps"] for w in live)
    in_flight = sum(w["snapshot"]["in_flight"] for w in live)
    summary = Text(
        f"asgi-lab top: {len(live)} live worker{'s' * (len(live) != 1)}, {rps:.0f} req/s, "
        f"{in_flight} in flight, {restarts} restart{'s' * (restarts != 1)}",
        style="bold",
    )
    return Group(summary, *(worker(w) for w in frame["workers"]))


def run(url: str, *, frames: int | None = None, console: Console | None = None) -> int:
    """Draw the live page at `url` until it closes, `frames` frames were drawn, or Ctrl-C; the
    number of frames drawn."""
    console = console or Console()
    drawn = 0
    waiting = Text(f"asgi-lab top: waiting for {url}")
    with Live(waiting, console=console, auto_refresh=False, redirect_stdout=False) as shown:
        for frame in feed(url):
            shown.update(board(frame), refresh=True)
            drawn += 1
            if frames is not None and drawn >= frames:
                break
    return drawn
