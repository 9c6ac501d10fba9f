"""Chapter 15: where Django, Quart, Litestar and FastAPI run sync views, from real servers.

Each app's views answer the native id of the thread they ran on; the probe's header names the
thread it saw run the handler, and its record the hop and the pool the view went through. Then
N slow sync views at once, N two more than the loop's default executor has threads: how many
threads ran them, and how long they took.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from asgi_lab.lab.clients import AsyncClient, Reply
from asgi_lab.probe.pools import default_size
from asgi_lab.records import read_records
from asgi_lab.records.schema import RecordData
from asgi_lab.serving import ServerOptions, start
from asgi_lab.settings import Settings
from asgi_lab.timeline import build, terminal

APPS = Path(__file__).parent / "apps"
#: The frameworks whose burst is drawn: a thread per request, and a pool of six.
TIMELINES = {"Django", "Quart"}
SLEEP = 0.3
N = default_size() + 2

#: (label, module, the paths to ask once, the slow ones sent N at once, extra environment)
SERVED = [
    ("Django", "django_views", ["/sync", "/async"], ["/sync"], {}),
    ("Django, one sync middleware", "django_views", ["/sync", "/async"], ["/sync"],
     {"LAB_SYNC_MIDDLEWARE": "1"}),
    ("Quart", "quart_routes", ["/sync", "/async"], ["/sync"], {}),
    ("Litestar", "litestar_handlers", ["/sync", "/async"], ["/sync"], {}),
    ("FastAPI", "fastapi_views", ["/sync", "/async", "/to-thread"], ["/sync", "/to-thread"], {}),
]  # fmt: skip


Burst = tuple[float, list[Reply]]


async def ask(url: str, paths: list[str], slow: list[str]) -> tuple[list[Reply], list[Burst]]:
    """Each path once, then `N` requests to each slow path at once: the seconds and replies."""
    async with AsyncClient(url) as client:
        once = [await client.get(p) for p in paths]
        await asyncio.gather(*(client.get("/async") for _ in range(N)))  # N connections
        bursts = []
        for path in slow:
            loop = asyncio.get_running_loop()
            started = loop.time()
            replies = await asyncio.gather(
                *(client.get(f"{path}?seconds={SLEEP}") for _ in range(N))
            )
            bursts.append((loop.time() - started, list(replies)))
        return once, bursts


def hops(record: RecordData) -> list[str]:
    """Each hop: what it called, its pool's name and size, the thread it ran on."""
    said = []
    for h in record.hops:
        size = "?" if h.pool.size is None else f"{h.pool.size:g}"
        thread = "?" if h.thread is None else h.thread.native_id
        said.append(f"{h.call} -> {h.pool.name} (size {size}) on {thread}")
    return said or ["no hop"]


print(f"this machine: the loop's default executor has min(32, cpus + 4) = {default_size()} threads")
for label, module, paths, slow, env in SERVED:
    with tempfile.TemporaryDirectory() as trace:
        options = ServerOptions(
            f"{module}:app",
            app_dir=str(APPS),
            loop="asyncio",
            env=env,
            settings=Settings(trace_dir=trace, log="off"),
        )
        with start(options) as server:
            once, bursts = asyncio.run(ask(server.url, paths, slow))
        records = {r.id: r for r in read_records(Path(trace))}
    print(f"\n{label} ({module}.py, uvicorn, asyncio)")
    for path, reply in zip(paths, once, strict=True):
        record = records[reply.record_id]
        view, header = reply.body["tid"], reply.thread
        where = "a thread" if record.handler.in_threadpool else "the loop"
        agree = "=" if view == header else "!="
        print(f"  GET {path:10} view on {view} {agree} header {header} ({where})")
        if "call" in reply.body:
            print(f"    and its asyncio.to_thread call on {reply.body['call']}")
        for hop in hops(record):
            print(f"    {hop}")
    for path, (seconds, replies) in zip(slow, bursts, strict=True):
        ran = {r.body.get("call", r.body["tid"]) for r in replies}
        waves = round(seconds / SLEEP)
        print(f"  {N} x GET {path}?seconds={SLEEP} at once: on {len(ran)} threads, "
              f"{seconds:.2f} s = {waves} x {SLEEP} s")  # fmt: skip
        if label in TIMELINES:
            burst = build(records[r.record_id] for r in replies)
            print(terminal.render(burst, width=100, max_rows=2, max_threads=N).plain)
