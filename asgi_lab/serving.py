"""One way to run uvicorn: on a loopback socket we bind, every worker waited for, always stopped.

`asgi-lab serve`, the lab's experiments, the benchmarks and the tests all start servers here,
from one `ServerOptions` (uvicorn's `Config` is the model: every option written once).

We bind the socket ourselves: port 0 lets the kernel pick a free port, so runs never collide;
TCP_NODELAY goes on the listening socket (accepted sockets inherit it on Linux; uvicorn does not
set it on a socket passed with `--fd`, and without it a keep-alive request waits ~40 ms for a
delayed ACK). uvicorn runs as a child process in its own session, so teardown can always reach
every worker: SIGTERM (uvicorn drains and runs lifespan shutdown), a bounded wait, then SIGKILL
to the whole group.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType, TracebackType
from typing import TextIO

from asgi_lab import colour
from asgi_lab.settings import Settings

__all__ = [
    "Server",
    "ServerError",
    "ServerOptions",
    "bind",
    "start",
    "terminate_as_interrupt",
]

_STARTED = re.compile(r"Started server process \[(\d+)\]")
_READY = "Application startup complete"


class ServerError(RuntimeError):
    """A server that would not start, with what it printed."""


@dataclass(frozen=True)
class ServerOptions:
    """Everything that decides how a server runs; each uvicorn option under uvicorn's name."""

    #: The import string, `module:attribute`.
    app: str = "asgi_lab.raw:app"
    workers: int = 1
    loop: str = "auto"
    http: str = "auto"
    host: str = "127.0.0.1"
    port: int = 0
    #: `app` names a factory to call, not an app.
    factory: bool = False
    #: Where uvicorn imports `app` from (it puts this first on `sys.path`).
    app_dir: str | None = None
    access_log: bool = False
    log_level: str = "info"
    #: TCP_NODELAY on the listening socket (the nodelay experiment turns it off).
    nodelay: bool = True
    #: The `ASGI_LAB_*` settings every worker starts with.
    settings: Settings = field(default_factory=Settings)
    #: More environment for the workers (it wins over `settings`).
    env: Mapping[str, str] = field(default_factory=dict)
    #: Pin the server to these CPUs with `taskset -c` (benchmarks).
    cpus: str | None = None
    ready_timeout: float = 30.0

    def command(self, fd: int) -> list[str]:
        """The uvicorn command line that serves on the socket `fd`."""
        command = [sys.executable, "-m", "uvicorn", self.app, "--fd", str(fd)]
        command += ["--workers", str(self.workers), "--loop", self.loop, "--http", self.http]
        command += ["--log-level", self.log_level]
        command.append("--access-log" if self.access_log else "--no-access-log")
        if self.factory:
            command.append("--factory")
        if self.app_dir is not None:
            command += ["--app-dir", self.app_dir]
        if self.cpus is not None:
            command = ["taskset", "-c", self.cpus, *command]
        return command

    def environment(self) -> dict[str, str]:
        """The workers' environment: ours, the settings, then `env`."""
        return {**os.environ, "PYTHONUNBUFFERED": "1", **self.settings.as_env(), **self.env}


def bind(host: str = "127.0.0.1", port: int = 0, *, nodelay: bool = True) -> socket.socket:
    """A listening TCP socket (by default on a free loopback port), inheritable by a child."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


class Server:
    """A running uvicorn: its process, its socket, what it printed, and how to reach it."""

    def __init__(
        self, options: ServerOptions, process: subprocess.Popen[str], sock: socket.socket
    ) -> None:
        self.options = options
        self.process = process
        self.sock = sock
        self.lines: list[str] = []
        self.ready_workers = 0
        self.ready = threading.Event()
        self._reader: threading.Thread | None = None

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def workers(self) -> int:
        return self.options.workers

    @property
    def host(self) -> str:
        return str(self.sock.getsockname()[0])

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def pid(self) -> int:
        """The process we started: the only worker, or the supervisor of several."""
        return self.process.pid

    @property
    def worker_pids(self) -> list[int]:
        """Every worker process uvicorn reported starting (a restarted worker adds its pid)."""
        return [int(m.group(1)) for line in list(self.lines) if (m := _STARTED.search(line))]

    def output(self) -> str:
        return "".join(self.lines)

    def read_output(self, echo: TextIO | None) -> None:
        """Collect what uvicorn prints; count the ready workers. Once every worker is ready,
        pass the lines on to `echo` (a server that fails to start says why through
        `ServerError`, not through a traceback on the terminal)."""
        stdout = self.process.stdout
        if stdout is None:
            raise ServerError("the server's output is not a pipe")
        for line in stdout:
            self.lines.append(line)
            if _READY in line:
                self.ready_workers += 1
                if self.ready_workers == self.options.workers and echo is not None:
                    echo.write("".join(self.lines))
                    echo.flush()
                    self.ready.set()
                    continue
                if self.ready_workers >= self.options.workers:
                    self.ready.set()
            if echo is not None and self.ready.is_set():
                echo.write(line)
                echo.flush()
        self.ready.set()  # the process closed its output: it has exited

    def wait(self, timeout: float | None = None) -> int | None:
        """Until the server exits (or `timeout`); its exit status, or None if still running."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait up to `timeout`, then SIGKILL the whole process group. Idempotent."""
        proc = self.process
        try:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            # Whatever survived (a stuck worker, a child of a killed parent) goes with the group.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if proc.poll() is None:
                proc.wait(timeout)
            self.sock.close()
            if self._reader is not None:
                self._reader.join(timeout)
            # The reader has seen end-of-file; closing our end of the pipe keeps the
            # Popen object from leaking it (a ResourceWarning under `-W error`).
            if proc.stdout is not None and (self._reader is None or not self._reader.is_alive()):
                proc.stdout.close()
        return proc.returncode


def start(options: ServerOptions | None = None, *, echo: TextIO | None = None) -> Server:
    """Start uvicorn on a freshly bound socket and wait until every worker is ready.

    Use it as a context manager (`with start(options) as server:`) so it is always stopped.
    `echo` receives every line uvicorn prints. Raises `OSError` when the address cannot be
    bound, `ServerError` when uvicorn exits or is not ready within `ready_timeout`.
    """
    options = options or ServerOptions()
    sock = bind(options.host, options.port, nodelay=options.nodelay)
    try:
        process = subprocess.Popen(
            options.command(sock.fileno()),
            pass_fds=(sock.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**options.environment(), **_colour(echo)},
            start_new_session=True,
        )
    except BaseException:
        sock.close()
        raise
    server = Server(options, process, sock)
    server._reader = threading.Thread(
        target=server.read_output, args=(echo,), name="uvicorn-output", daemon=True
    )
    server._reader.start()
    try:
        server.ready.wait(options.ready_timeout)
        if server.ready_workers < options.workers or process.poll() is not None:
            raise ServerError(f"uvicorn {options.app} did not become ready:\n{server.output()}")
    except BaseException:
        server.stop()
        raise
    return server


def _colour(echo: TextIO | None) -> dict[str, str]:
    """The workers write to our pipe; when we pass their lines on to a terminal, say so, so
    their log lines are coloured as if they wrote there themselves."""
    return {"FORCE_COLOR": "1"} if echo is not None and colour.wanted(echo) else {}


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While running, SIGTERM raises KeyboardInterrupt, so servers are stopped on the way out."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
