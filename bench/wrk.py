"""One wrk run, pinned to CPU 1, read back as requests per second, and the server it measures.

The servers under test are pinned to CPU 0 (`server_options`), so load generator and server
never compete for a core. A run with non-2xx answers or socket errors
measured something else (errors are cheap), so it fails instead of returning a figure.
"""

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

from asgi_lab.serving import ServerOptions
from asgi_lab.settings import Settings

__all__ = ["WrkError", "command", "requests_per_second", "server_options"]

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


class WrkError(RuntimeError):
    """wrk failed, saw errors, or printed no rate; the message carries its output."""


def command(url: str, seconds: int, connections: int) -> list[str]:
    """wrk with one thread on CPU 1."""
    return ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url]


def requests_per_second(url: str, seconds: int, connections: int) -> float:
    """Run wrk against `url` for `seconds` and return its Requests/sec."""
    done = subprocess.run(
        command(url, seconds, connections), capture_output=True, text=True, timeout=seconds + 30
    )
    out = done.stdout
    if done.returncode != 0:
        raise WrkError(f"wrk exited with {done.returncode} against {url}:\n{out}{done.stderr}")
    if "Non-2xx" in out or "Socket errors" in out:
        raise WrkError(f"wrk saw errors against {url}:\n{out}")
    match = _RATE.search(out)
    if match is None:
        raise WrkError(f"No Requests/sec in wrk's output against {url}:\n{out}")
    return float(match.group(1))
