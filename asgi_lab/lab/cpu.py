"""How many cores were free for us while something ran: the machine's busy time minus our own.

A CPU-bound claim ("two workers finish two jobs in the time of one") holds only as far as the
cores allow, and on a shared machine another process may hold one. `CpuMeter` reads the kernel's
counters before and after (`/proc/stat` for the whole machine, `/proc/PID/stat` for the
processes we measure) and reports how many cores those used and how many the other processes
left free, on average.
Counters tick in jiffies (usually 10 ms), so a window of a few hundred milliseconds is needed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from types import TracebackType

__all__ = ["CpuMeter", "cores"]

_TICK = os.sysconf("SC_CLK_TCK")


def cores() -> int:
    """The cores this process may run on (what a taskset or a container allows)."""
    return len(os.sched_getaffinity(0))


def machine_busy() -> float:
    """CPU seconds all cores have spent not idle since boot."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICK


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) process `pid` has used; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            after_name = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # Fields 14 and 15 of the file (utime, stime) are 12 and 13 after the name.
    return (int(after_name[11]) + int(after_name[12])) / _TICK


class CpuMeter:
    """`with CpuMeter(pids) as m: ...`, then `m.cores_used` by `pids` and `m.free_cores`."""

    def __init__(self, pids: Iterable[int]) -> None:
        self.pids = sorted(set(pids))
        self.wall = 0.0
        #: CPU seconds the measured processes used, and the rest of the machine besides us.
        self.used = 0.0
        self.others = 0.0

    def _snapshot(self) -> tuple[float, float, float, float]:
        used = sum(process_cpu(pid) for pid in self.pids)
        return time.perf_counter(), machine_busy(), used, process_cpu(os.getpid())

    def __enter__(self) -> CpuMeter:
        self._start = self._snapshot()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        end = self._snapshot()
        self.wall = end[0] - self._start[0]
        self.used = end[2] - self._start[2]
        client = end[3] - self._start[3]
        self.others = max(0.0, end[1] - self._start[1] - self.used - client)

    @property
    def cores_used(self) -> float:
        """How many cores the measured processes kept busy, on average."""
        return self.used / self.wall if self.wall > 0 else 0.0

    @property
    def free_cores(self) -> float:
        """Usable cores minus the average number other processes kept busy (floored at 0.1)."""
        if self.wall <= 0:
            return float(cores())
        return max(0.1, cores() - self.others / self.wall)
