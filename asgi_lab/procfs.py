"""What Linux's /proc says about a running server: its processes, who listens, who accepted.

Every server names its workers differently in its log (uvicorn's "Started server process",
granian's "Spawning worker-1", hypercorn and daphne not at all), and an app that reconfigures
logging silences them all. The kernel does not depend on anyone's wording:

- a socket's inode (`socket:[N]` in `/proc/PID/fd`) names it across processes, so the
  processes that hold a listening socket are the server's, and the ones among them with no
  descendant that also holds one are its workers (a supervisor holds it only to hand it on);
- a connection waiting in the listen queue has inode 0 in `/proc/net/tcp` until a worker calls
  `accept()`: a connection with an inode was accepted, and the process holding that inode is
  the worker that took it. That is our readiness test: it needs no request, so no app sees it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

__all__ = [
    "RunQueueClock",
    "accepted_by",
    "alive",
    "children",
    "connection_inode",
    "descendants",
    "disposition",
    "listener_inodes",
    "socket_inodes",
    "workers",
]

#: `st` of a listening and of an established socket in /proc/net/tcp.
_LISTEN = "0A"
_ESTABLISHED = "01"


def children(pid: int) -> list[int]:
    """The direct children of `pid` (none when it is gone)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f:
                found.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    """Whether `pid` is running (a zombie, dead but not yet waited for, is not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            # The state follows the command's name, which is in parentheses and may hold any.
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it, parents before children."""
    tree, queue = [], [pid]
    while queue:
        current = queue.pop(0)
        if current in tree:
            continue
        tree.append(current)
        queue.extend(children(current))
    return tree


def socket_inodes(pid: int) -> set[int]:
    """The inodes of every socket `pid` has open (none when it is gone or not ours to read)."""
    inodes: set[int] = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def _tcp_table() -> Iterable[list[str]]:
    """The rows of /proc/net/tcp and tcp6: local, remote, state, ..., inode (split)."""
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name, encoding="ascii") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            yield line.split()


def _port(address: str) -> int:
    """The port of a /proc/net/tcp address, `HEXIP:HEXPORT`."""
    return int(address.rsplit(":", 1)[1], 16)


def listener_inodes(port: int) -> set[int]:
    """The inodes of the sockets listening on TCP `port` (several when each worker binds its
    own with SO_REUSEPORT, as granian's do); empty while nothing listens there."""
    return {
        int(row[9])
        for row in _tcp_table()
        if row[3] == _LISTEN and _port(row[1]) == port and int(row[9]) != 0
    }


def connection_inode(server_port: int, client_port: int) -> int | None:
    """The server-side inode of our connection from `client_port` to `server_port`: 0 while it
    waits in the listen queue, None when there is no such open connection."""
    for row in _tcp_table():
        if row[3] == _ESTABLISHED and _port(row[1]) == server_port and _port(row[2]) == client_port:
            return int(row[9])
    return None


def accepted_by(root: int, inode: int) -> int | None:
    """The process under `root` holding the socket `inode` (the one that accepted it)."""
    for pid in descendants(root):
        if inode in socket_inodes(pid):
            return pid
    return None


def workers(root: int, listeners: set[int]) -> list[int]:
    """The processes under `root` that hold a listening socket and hand it to nobody below."""
    holders = [pid for pid in descendants(root) if listeners & socket_inodes(pid)]
    return [
        pid
        for pid in holders
        if not any(other != pid and other in descendants(pid) for other in holders)
    ]


def disposition(pid: int, signum: int) -> str | None:
    """What the kernel does with `signum` for `pid`: "caught" (a handler, Python's or native
    code's), "ignored" or "default"; None when /proc cannot say (gone, or no /proc)."""
    masks: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name in ("SigCgt", "SigIgn"):
                    masks[name] = int(value, 16)
    except (OSError, ValueError):
        return None
    if len(masks) != 2:
        return None
    bit = 1 << (signum - 1)
    if masks["SigCgt"] & bit:
        return "caught"
    return "ignored" if masks["SigIgn"] & bit else "default"


class RunQueueClock:
    """How long one thread of this process has waited for a core so far: runnable but not
    running (the scheduler's `run_delay`: a loaded machine, a container's CPU quota), read from
    `/proc/self/task/TID/schedstat`, kept open so that a reading is one system call."""

    def __init__(self, tid: int) -> None:
        try:
            self._fd: int | None = os.open(f"/proc/self/task/{tid}/schedstat", os.O_RDONLY)
        except OSError:  # no such thread, no /proc
            self._fd = None

    def read(self) -> float | None:
        """Seconds waited so far; None where the kernel does not say (no scheduler statistics:
        it shows zeros, though the thread has run)."""
        if self._fd is None:
            return None
        try:
            ran, waited, slices = (int(x) for x in os.pread(self._fd, 128, 0).split()[:3])
        except (OSError, ValueError):
            return None
        if not ran and not slices:
            return None
        return waited / 1e9

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
