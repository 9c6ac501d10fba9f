"""What the live page costs a server: the probe with its watchdog, then with `--live` and no page
open, then with the page open (a client reading its server-sent events), side by side.

    python bench/live.py [--rounds 5] [--seconds 3] [--connections 64] [--path /]

The app is bench/apps/peers.py's probed FastAPI app, one uvicorn worker pinned to core 0, wrk on
core 1; the page's server and the events reader run in this process, on core 1 too. The live
feed needs the watchdog (its loop lag and stalls), so every variant has it on: what is measured
is what `--live` adds. Each figure is the median over rounds of that round's ratio to the probe
without the page, and the server's CPU per request beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import statistics
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from asgi_lab.live import feeding, open_live  # noqa: E402
from asgi_lab.serving import start  # noqa: E402
from asgi_lab.settings import Settings  # noqa: E402
from bench import wrk  # noqa: E402

VARIANTS = ("probe", "live, no page", "live, page open")


@contextlib.contextmanager
def reading(url: str) -> Iterator[list[int]]:
    """A client reading the page's event stream for the block, as an open page does; yields
    the count of events read so far (one item, updated in place)."""
    read = [0]
    stop = threading.Event()

    def run() -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(5.0, read=5.0)) as client,
            client.stream("GET", url + "/events") as events,
        ):
            for line in events.iter_lines():
                if line.startswith("data:"):
                    read[0] += 1
                if stop.is_set():
                    return

    reader = threading.Thread(target=run, name="live-page-reader", daemon=True)
    reader.start()
    try:
        yield read
    finally:
        stop.set()
        reader.join(10)


def measure(variant: str, path: str, seconds: int, connections: int) -> tuple[wrk.Load, int]:
    """One server for `variant` under wrk; the load, and the events the page sent meanwhile."""
    options = wrk.server_options("bench.apps.peers:probe", Settings(log="off", block_ms=100.0))
    live = open_live(echo=None) if variant != "probe" else contextlib.nullcontext()
    with live as page, start(feeding(options, page)) as server:
        url = server.url + path
        wrk.requests_per_second(url, 1, connections)  # warm-up
        if variant == "live, page open" and page is not None:
            with reading(page.url) as read:
                load = wrk.load(url, seconds, connections, pid=server.pid)
            return load, read[0]
        return wrk.load(url, seconds, connections, pid=server.pid), 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--path", default="/", help="'/' (async hello) or '/sync-dep' (def)")
    args = parser.parse_args()
    # The page's server and the events reader are threads of this process: keep them off the
    # server's core, beside wrk.
    os.sched_setaffinity(0, {1})
    print(f"$ {shlex.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"cores: {os.cpu_count()}; server on core 0, wrk on core 1; uvloop + httptools")
    runs: dict[str, list[wrk.Load]] = {name: [] for name in VARIANTS}
    events: list[int] = []
    for round_ in range(1, args.rounds + 1):
        for name in VARIANTS:
            load, read = measure(name, args.path, args.seconds, args.connections)
            runs[name].append(load)
            if read:
                events.append(read)
        print(
            f"  round {round_}: " + ", ".join(f"{n} {r[-1].rate:,.0f}" for n, r in runs.items()),
            flush=True,
        )
    command = shlex.join(wrk.command("<url>" + args.path, args.seconds, args.connections))
    print(f"\n{command}; median of {args.rounds} rounds, ratio to the probe without the page:")
    probe = runs["probe"]
    for name, loads in runs.items():
        rate = statistics.median(r.rate for r in loads)
        paired = statistics.median(v.rate / p.rate for v, p in zip(loads, probe, strict=True))
        cpu = statistics.median(r.cpu_us_per_request or 0.0 for r in loads)
        print(f"  {name:<16} {rate:>9,.0f} req/s  {paired:.3f}  cpu {cpu:6.1f} µs/req")
    if events:
        print(f"  (the open page read {statistics.median(events):.0f} events a run, median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
