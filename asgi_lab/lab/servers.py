"""Start and stop real uvicorn servers on a loopback socket we bound ourselves.

We bind port 0 (the kernel picks a free port, so runs never collide), set TCP_NODELAY on the
listening socket (accepted sockets inherit it on Linux; uvicorn does not set it on a socket passed
with `--fd`, and without it a keep-alive request waits ~40 ms for a delayed ACK), and hand the
file descriptor to uvicorn. The server runs in its own session so that teardown can always reach
every worker: SIGTERM, a bounded wait, then SIGKILL to the whole group.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType

_STARTED = re.compile(r"Started server process \[(\d+)\]")
_READY = "Application startup complete"


class ServerError(RuntimeError):
    """A server that would not start, with what it printed."""


def bind_loopback(*, nodelay: bool = True, host: str = "127.0.0.1", port: int = 0) -> socket.socket:
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


@dataclass
class Server:
    """A running uvicorn: its process, its socket, what it printed, and how to reach it."""

    process: subprocess.Popen[str]
    sock: socket.socket
    workers: int
    lines: list[str] = field(default_factory=list)
    ready_workers: int = 0
    _reader: threading.Thread | None = None

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
    def host(self) -> str:
        return str(self.sock.getsockname()[0])

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        """The process we started: the only worker, or the supervisor of several."""
        return self.process.pid

    @property
    def worker_pids(self) -> list[int]:
        """Every worker process uvicorn reported starting."""
        return [int(m.group(1)) for line in list(self.lines) if (m := _STARTED.search(line))]

    def output(self) -> str:
        return "".join(self.lines)

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


def start(
    app: str = "asgi_lab.raw:app",
    *,
    workers: int = 1,
    loop: str = "auto",
    http: str = "auto",
    env: Mapping[str, str] | None = None,
    nodelay: bool = True,
    extra: Sequence[str] = (),
    cpus: str | None = None,
    ready_timeout: float = 30.0,
) -> Server:
    """Start `uvicorn APP` on a fresh loopback socket and wait until every worker is ready.

    Use it as a context manager (`with start(...) as server:`) so it is always stopped.
    `cpus` pins the server with `taskset -c CPUS` (for benchmarks); `env` adds variables.
    """
    sock = bind_loopback(nodelay=nodelay)
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--fd",
        str(sock.fileno()),
        "--workers",
        str(workers),
        "--loop",
        loop,
        "--http",
        http,
        "--no-access-log",
        "--log-level",
        "info",
        *extra,
    ]
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    child_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    try:
        process = subprocess.Popen(
            command,
            pass_fds=(sock.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=child_env,
            start_new_session=True,
        )
    except BaseException:
        sock.close()
        raise
    server = Server(process, sock, workers)
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            server.lines.append(line)
            if _READY in line:
                server.ready_workers += 1
                if server.ready_workers >= workers:
                    ready.set()
        ready.set()  # the process closed its output: it has exited

    server._reader = threading.Thread(target=read, name="uvicorn-output", daemon=True)
    server._reader.start()
    try:
        ready.wait(ready_timeout)
        if server.ready_workers < workers or process.poll() is not None:
            raise ServerError(f"uvicorn {app} did not become ready:\n{server.output()}")
    except BaseException:
        server.stop()
        raise
    return server
