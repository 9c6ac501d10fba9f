"""Chapter 16: the same app (Layer 0) on uvicorn, granian and hypercorn, two workers each.

Per server: the worker processes, their parent and the listening socket each holds, as /proc
says; the thread that runs each
worker's loop (an `async def` endpoint's thread) and the one that runs a `def` endpoint; then
one bounded load of `/quick`, 32 requests in flight, the server on CPU 0 and this client on
CPU 1 where there are two.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from pathlib import Path

from show import handler_of, loop_of

from asgi_lab import procfs
from asgi_lab.lab.clients import AsyncClient, Reply
from asgi_lab.serving import ServerOptions, start
from asgi_lab.settings import Settings

SERVERS = ("uvicorn", "granian", "hypercorn")
WORKERS = 2
REQUESTS = 2_000
IN_FLIGHT = 32
#: Answers asked for until every worker has answered one (bounded).
FIND = 200


def parent(pid: int) -> int:
    """A process's parent, from /proc/PID/stat (the field after the parenthesised name)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def thread_names(pid: int) -> str:
    """The threads of a process by their kernel name (/proc/PID/task/TID/comm), counted:
    Python's threads all carry the process's name, threads started by Rust their own."""
    names = Counter(
        (task / "comm").read_text().strip() for task in Path(f"/proc/{pid}/task").iterdir()
    )
    named = ", ".join(f"{name} x{n}" if n > 1 else name for name, n in sorted(names.items()))
    return f"{names.total()} ({named})"


async def one_per_worker(url: str, path: str) -> dict[int, Reply]:
    """An answer to `path` from every worker, each on a fresh connection (at most `FIND`)."""
    found: dict[int, Reply] = {}
    async with AsyncClient(url, fresh=True, timeout=10.0) as client:
        for _ in range(FIND):
            reply = await client.get(path)
            found.setdefault(reply.pid, reply)
            if len(found) == WORKERS:
                break
    return found


async def load(url: str) -> tuple[float, Counter[int]]:
    """`REQUESTS` of `/quick`, `IN_FLIGHT` at a time: the seconds taken and the split by pid."""
    async with AsyncClient(url, connections=IN_FLIGHT, timeout=30.0) as client:
        await asyncio.gather(*(client.get("/quick") for _ in range(IN_FLIGHT)))  # connect
        started = time.perf_counter()
        replies = await asyncio.gather(*(client.get("/quick") for _ in range(REQUESTS)))
        seconds = time.perf_counter() - started
    assert all(r.status == 200 for r in replies), "every /quick answers 200"
    return seconds, Counter(r.pid for r in replies)


# The server is pinned with taskset; this process (and so the client) to the other CPU.
pinned = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2
if pinned:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[1]})
client_cpus = ",".join(map(str, sorted(os.sched_getaffinity(0))))
print(f"asgi_lab.raw:app, {WORKERS} workers, server on CPU 0, client on CPU {client_cpus}")
for name in SERVERS:
    options = ServerOptions(
        "asgi_lab.raw:app",
        server=name,
        workers=WORKERS,
        cpus="0" if pinned else None,
        settings=Settings(log="off"),
    )
    with start(options) as server:
        workers = sorted(server.worker_pids)
        parents = {pid: parent(pid) for pid in workers}
        threads = {pid: thread_names(pid) for pid in workers}
        # A socket's inode names it across processes: shared, or one per worker.
        listens = {pid: sorted(procfs.socket_inodes(pid) & server.listeners()) for pid in workers}
        loops = asyncio.run(one_per_worker(server.url, "/quick"))
        defs = asyncio.run(one_per_worker(server.url, "/sync/sleep?seconds=0.01"))
        seconds, split = asyncio.run(load(server.url))
    print(f"\n{name}: started pid {server.pid}")
    for pid in workers:
        kin = "itself" if pid == server.pid else f"child of {parents[pid]}"
        sockets = ", ".join(f"socket:[{inode}]" for inode in listens[pid])
        print(f"  worker {pid} ({kin}), listening on {sockets}")
        print(f"    threads before any request: {threads[pid]}")
        print(f"    GET /quick       {loop_of(loops[pid].body['served_by'])}")
        print(f"    GET /sync/sleep  {handler_of(defs[pid].body['served_by'])}")
    shares = ", ".join(f"{split[pid]}" for pid in workers)
    print(f"  {REQUESTS} x /quick, {IN_FLIGHT} in flight: {REQUESTS / seconds:,.0f} req/s "
          f"({seconds:.2f} s), per worker {shares}")  # fmt: skip
