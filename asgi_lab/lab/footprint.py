"""What a worker process holds, as the kernel counts it: resident memory and open files.

The sizing rules bound workers by memory and pools by the database's connections; both are
read from /proc rather than from the app, so a count cannot agree with itself by construction.
"""

from __future__ import annotations

import os

__all__ = ["memory_available", "open_files", "rss"]


def _kib_field(path: str, name: str) -> int:
    """Bytes of a `Name:   N kB` line in a /proc status-like file."""
    with open(path, encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key == name:
                return int(value.split()[0]) * 1024
    raise LookupError(f"{path} has no {name!r} line")


def rss(pid: int) -> int:
    """Resident bytes of process `pid` (`VmRSS` in /proc/PID/status)."""
    return _kib_field(f"/proc/{pid}/status", "VmRSS")


def memory_available() -> int:
    """Bytes the kernel estimates new processes could use without swapping (`MemAvailable`)."""
    return _kib_field("/proc/meminfo", "MemAvailable")


def open_files(pid: int, path: str) -> int:
    """How many of `pid`'s file descriptors are open on `path` (one per SQLite connection)."""
    target = os.path.realpath(path)
    fds = f"/proc/{pid}/fd"
    count = 0
    for fd in os.listdir(fds):
        try:
            if os.readlink(os.path.join(fds, fd)) == target:
                count += 1
        except FileNotFoundError:  # closed between the listing and the look
            continue
    return count
