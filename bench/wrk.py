"""One wrk run, pinned to CPU 1, read back as requests per second, and the server it measures.

The servers under test are pinned to CPU 0 (`server_options`), so load generator and server
never compete for a core. A run with non-2xx answers or socket errors
measured something else (errors are cheap), so it fails instead of returning a figure.
"""

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from asgi_lab import procfs
from asgi_lab.serving import ServerOptions
from asgi_lab.settings import Settings

__all__ = [
    "Load",
    "WrkError",
    "command",
    "cpu_seconds",
    "load",
    "requests_per_second",
    "server_options",
]

ROOT = Path(__file__).resolve().parent.parent


def server_options(
    app: str,
    settings: Settings | None = None,
    env: Mapping[str, str] | None = None,
    app_dir: Path = ROOT,
) -> ServerOptions:
    """uvicorn with uvloop and httptools on CPU 0, importing `app` from the repository (or from
    another checkout, `app_dir`: its `asgi_lab` wins over the installed one); no log line unless
    `settings` asks for one."""
    return ServerOptions(
        app=app,
        loop="uvloop",
        http="httptools",
        cpus="0",
        app_dir=str(app_dir),
        settings=settings or Settings(log="off"),
        env=env or {},
    )


_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_DONE = re.compile(r"(\d+) requests in")


class WrkError(RuntimeError):
    """wrk failed, saw errors, or printed no rate; the message carries its output."""


def command(url: str, seconds: int, connections: int) -> list[str]:
    """wrk with one thread on CPU 1."""
    return ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url]


@dataclass(frozen=True)
class Load:
    """What one wrk run did: its rate, the requests it completed, and, when a server pid was
    given, the CPU seconds that process and its workers (all their threads) spent meanwhile."""

    rate: float
    requests: int
    cpu: float | None = None
    #: wrk's "Socket errors" and "Non-2xx" lines, when the run was allowed to have them.
    errors: tuple[str, ...] = ()

    @property
    def cpu_us_per_request(self) -> float | None:
        """The server's CPU per request: a cost figure steadier than the rate on a busy box."""
        return None if self.cpu is None else self.cpu / self.requests * 1e6


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds so far of process `pid` and every process below it (a
    server's workers), from /proc/<pid>/stat."""
    total = 0
    for each in procfs.descendants(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def load(
    url: str, seconds: int, connections: int, pid: int | None = None, *, strict: bool = True
) -> Load:
    """Run wrk against `url` for `seconds`; with `pid`, also the CPU that process spent. Not
    `strict`: socket errors and non-2xx answers are kept in `errors` instead of raising."""
    before = cpu_seconds(pid) if pid is not None else 0.0
    out = _run(url, seconds, connections, strict=strict)
    cpu = cpu_seconds(pid) - before if pid is not None else None
    done = _DONE.search(out)
    if done is None:
        raise WrkError(f"No request count in wrk's output against {url}:\n{out}")
    errors = tuple(
        line.strip() for line in out.splitlines() if "Socket errors" in line or "Non-2xx" in line
    )
    return Load(_rate(out, url), int(done.group(1)), cpu, errors)


def requests_per_second(url: str, seconds: int, connections: int) -> float:
    """Run wrk against `url` for `seconds` and return its Requests/sec."""
    return _rate(_run(url, seconds, connections), url)


def _run(url: str, seconds: int, connections: int, *, strict: bool = True) -> str:
    done = subprocess.run(
        command(url, seconds, connections), capture_output=True, text=True, timeout=seconds + 30
    )
    out = done.stdout
    if done.returncode != 0:
        raise WrkError(f"wrk exited with {done.returncode} against {url}:\n{out}{done.stderr}")
    if strict and ("Non-2xx" in out or "Socket errors" in out):
        raise WrkError(f"wrk saw errors against {url}:\n{out}")
    return out


def _rate(out: str, url: str) -> float:
    match = _RATE.search(out)
    if match is None:
        raise WrkError(f"No Requests/sec in wrk's output against {url}:\n{out}")
    return float(match.group(1))
