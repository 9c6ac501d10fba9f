"""One way to run a server: on a loopback port of our choosing, every worker waited for, always
stopped. uvicorn by default; granian, hypercorn and daphne with `server=` (the servers extra).

`asgi-lab serve`, `trace`, the lab's experiments, the benchmarks and the tests all start servers
here, from one `ServerOptions` (uvicorn's `Config` is the model: every option written once, under
uvicorn's name, mapped to each server's flag, or refused with an error naming the option).

We bind the socket ourselves: port 0 lets the kernel pick a free port, so runs never collide;
TCP_NODELAY goes on the listening socket (accepted sockets inherit it on Linux; uvicorn does not
set it on a socket passed with `--fd`, and without it a keep-alive request waits ~40 ms for a
delayed ACK). uvicorn takes it with `--fd`, hypercorn with `--bind fd://N`, daphne with `--fd`.
granian takes no socket (`--host`/`--port` only): we pick a free port and close it, and if another
process takes it before granian binds, granian exits and we try a new port (see `_start_once`).

Ready means every worker has accepted a connection of ours, as the kernel says (`procfs`): no
server's log wording (an app that reconfigures logging silences it) and no request an app would
see. The server runs as a child process in its own session, so teardown always reaches every
worker: SIGTERM (each server drains and runs lifespan shutdown), a bounded wait, then SIGKILL to
the whole group.
"""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType, TracebackType
from typing import TextIO

from asgi_lab import colour, procfs
from asgi_lab.settings import Settings

__all__ = [
    "RUNTIME_MODES",
    "SERVERS",
    "Server",
    "ServerError",
    "ServerOptionError",
    "ServerOptions",
    "bind",
    "start",
    "terminate_as_interrupt",
]

#: The servers `server=` (and `--server`) names; uvicorn is the default.
SERVERS = ("uvicorn", "granian", "hypercorn", "daphne")
#: granian's `--runtime-mode`: one Rust runtime per thread (st) or one shared by all (mt).
RUNTIME_MODES = ("auto", "st", "mt")
#: Free ports granian is given before we give up (each lost only to a process that took it first).
_PORT_TRIES = 3
#: How often readiness looks at /proc again.
_POLL = 0.01


class ServerError(RuntimeError):
    """A server that would not start, with what it printed."""


class ServerOptionError(ValueError):
    """An option the chosen server cannot honour, named with the server and what it takes."""


@dataclass(frozen=True)
class ServerOptions:
    """Everything that decides how a server runs; each option under uvicorn's name."""

    #: The import string, `module:attribute`.
    app: str = "asgi_lab.raw:app"
    workers: int = 1
    loop: str = "auto"
    http: str = "auto"
    host: str = "127.0.0.1"
    port: int = 0
    #: `app` names a factory to call, not an app.
    factory: bool = False
    #: Where the server imports `app` from (first on `sys.path`).
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
    #: Which server: one of `SERVERS`.
    server: str = "uvicorn"
    #: granian's own knobs, passed through (None: granian's default).
    runtime_threads: int | None = None
    runtime_mode: str | None = None
    blocking_threads: int | None = None
    #: Seconds a shutdown waits for requests in flight before the server cuts them off (None:
    #: the server's own default, which for uvicorn is to wait for ever).
    timeout_graceful_shutdown: int | None = None
    #: The Python the server runs on (None: this one). `asgi_lab.interpreter.check` says
    #: whether it can, before a server starts.
    python: str | None = None

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise `ServerOptionError` for an option the chosen server cannot honour."""
        server = self.server
        if server not in SERVERS:
            raise ServerOptionError(f"--server must be one of {', '.join(SERVERS)}, got {server!r}")
        granian_only = {
            "--runtime-threads": self.runtime_threads,
            "--runtime-mode": self.runtime_mode,
            "--blocking-threads": self.blocking_threads,
        }
        if server != "granian":
            for flag, value in granian_only.items():
                if value is not None:
                    raise ServerOptionError(f"{flag} is granian's own; {server} has no such knob")
        mode = self.runtime_mode
        if mode is not None and mode not in RUNTIME_MODES:
            raise ServerOptionError(
                f"--runtime-mode must be one of {', '.join(RUNTIME_MODES)}, got {mode!r}"
            )
        if self.blocking_threads is not None and self.blocking_threads != 1:
            # granian refuses more for ASGI apps: its one blocking thread runs the event loop.
            raise ServerOptionError(
                f"granian runs an ASGI app on one blocking thread per worker: --blocking-threads "
                f"must be 1, got {self.blocking_threads}"
            )
        refused = _REFUSED.get(server, {})
        for name, allowed in refused.items():
            value = getattr(self, name)
            if value not in allowed:
                takes = ", ".join(str(a) for a in allowed)
                raise ServerOptionError(
                    f"{server} cannot honour --{name.replace('_', '-')} {value}: it takes {takes}"
                )
        if self.timeout_graceful_shutdown is not None and server not in GRACEFUL:
            raise ServerOptionError(
                f"{server} cannot honour --timeout-graceful-shutdown: only "
                f"{' and '.join(GRACEFUL)} bound how long a shutdown waits for requests"
            )
        if server == "daphne" and self.factory:
            raise ServerOptionError(
                "daphne cannot honour --factory: it imports an app, never calls a factory"
            )
        if server == "granian" and not self.nodelay:
            raise ServerOptionError(
                "granian binds its own socket: TCP_NODELAY on ours (nodelay=False) means nothing"
            )

    @property
    def interpreter(self) -> str:
        """The Python the server runs on: `python`, or the one running us."""
        return self.python if self.python is not None else sys.executable

    @property
    def takes_socket(self) -> bool:
        """Whether the server serves on a socket we bind and pass (all but granian)."""
        return self.server != "granian"

    def command(self, fd: int, port: int | None = None) -> list[str]:
        """The command line that serves on the socket `fd` (granian: on `port` of `host`)."""
        if self.server == "uvicorn":
            command = [self.interpreter, "-m", "uvicorn", self.app, "--fd", str(fd)]
            command += ["--workers", str(self.workers), "--loop", self.loop, "--http", self.http]
            command += ["--log-level", self.log_level]
            command.append("--access-log" if self.access_log else "--no-access-log")
            if self.factory:
                command.append("--factory")
            if self.app_dir is not None:
                command += ["--app-dir", self.app_dir]
        elif self.server == "granian":
            command = [self.interpreter, "-m", "granian", "--interface", "asgi", self.app]
            command += ["--host", self.host, "--port", str(port), "--workers", str(self.workers)]
            command += ["--loop", self.loop, "--log-level", self.log_level]
            command.append("--access-log" if self.access_log else "--no-access-log")
            if self.factory:
                command.append("--factory")
            if self.runtime_threads is not None:
                command += ["--runtime-threads", str(self.runtime_threads)]
            if self.runtime_mode is not None:
                command += ["--runtime-mode", self.runtime_mode]
            if self.blocking_threads is not None:
                command += ["--blocking-threads", str(self.blocking_threads)]
        elif self.server == "hypercorn":
            # hypercorn evaluates the attribute in the module: `app()` calls a factory.
            target = f"{self.app}()" if self.factory else self.app
            command = [self.interpreter, "-m", "hypercorn", target, "--bind", f"fd://{fd}"]
            command += ["--workers", str(self.workers), "--log-level", self.log_level]
            command += ["--error-logfile", "-"]
            if self.loop == "uvloop":
                command += ["--worker-class", "uvloop"]
            if self.access_log:
                command += ["--access-logfile", "-"]
        else:
            # daphne logs each request at verbosity 1 and up; 0 keeps only its errors.
            verbosity = "2" if self.log_level == "debug" else "1" if self.access_log else "0"
            command = [self.interpreter, "-m", "daphne", self.app, "--fd", str(fd), "-v", verbosity]
        if self.timeout_graceful_shutdown is not None:
            command += [GRACEFUL[self.server], str(self.timeout_graceful_shutdown)]
        if self.cpus is not None:
            command = ["taskset", "-c", self.cpus, *command]
        return command

    @property
    def stop_timeout(self) -> float:
        """How long `Server.stop()` waits before it kills: past the graceful shutdown's own."""
        return 10.0 + (self.timeout_graceful_shutdown or 0)

    def environment(self) -> dict[str, str]:
        """The workers' environment: ours, the settings, then `env`."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.settings.as_env(), **self.env}
        if self.app_dir is not None and self.server != "uvicorn":
            # uvicorn has --app-dir; the others import from sys.path, which starts with this.
            path = os.path.abspath(self.app_dir)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (path, env.get("PYTHONPATH")) if p)
        return env


#: The servers that bound a shutdown's wait for requests in flight, and their flag for it.
GRACEFUL = {"uvicorn": "--timeout-graceful-shutdown", "hypercorn": "--graceful-timeout"}

#: uvicorn's option values each other server takes (anything else is refused by name).
_REFUSED: dict[str, dict[str, tuple[object, ...]]] = {
    # granian: Rust's hyper parses HTTP (1 and 2 negotiated); its own loop choice.
    "granian": {"http": ("auto",), "loop": ("auto", "asyncio", "uvloop")},
    # hypercorn: h11 (and h2) always; its worker class picks the loop.
    "hypercorn": {"http": ("auto", "h11"), "loop": ("auto", "asyncio", "uvloop")},
    # daphne: Twisted parses HTTP on its asyncio reactor, in one process.
    "daphne": {"http": ("auto",), "loop": ("auto", "asyncio"), "workers": (1,)},
}


#: Lines of a server's output kept, newest last: enough for any error report, bounded however
#: long it runs (a traced server logs a line per request).
TAIL_LINES = 10_000
#: Lines waiting to be passed on to a terminal before more are counted and left out.
ECHO_LINES = 10_000
#: Seconds `stop()` lets the echo thread finish what it has.
ECHO_DRAIN = 2.0


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
    """A running server: its process, its address, what it printed, its workers."""

    def __init__(
        self,
        options: ServerOptions,
        process: subprocess.Popen[str],
        sock: socket.socket | None,
        port: int,
    ) -> None:
        self.options = options
        self.process = process
        #: The socket we bound and passed (None under granian, which binds its own).
        self.sock = sock
        #: The server's latest output lines (a bounded tail: what a failure or a test reads).
        self.lines: deque[str] = deque(maxlen=TAIL_LINES)
        #: Lines not passed on to `echo` because it did not keep up (a stalled terminal).
        self.unechoed = 0
        #: Every line read so far, counted: a mark for `lines_since`.
        self.lines_read = 0
        self.ready = threading.Event()
        self._port = port
        self._ours = {os.fstat(sock.fileno()).st_ino} if sock is not None else set()
        self._seen: list[int] = []
        # Workers seen starting, and those that accepted a connection (`wait_ready`).
        self._starting: set[int] = set()
        self._accepted: set[int] = set()
        self._lock = threading.Lock()
        self._terminated = False
        self._reader: threading.Thread | None = None
        self._echo_queue: queue.Queue[str | None] = queue.Queue(maxsize=ECHO_LINES)
        self._echoer: threading.Thread | None = None

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
    def name(self) -> str:
        return self.options.server

    @property
    def workers(self) -> int:
        return self.options.workers

    @property
    def host(self) -> str:
        return self.options.host if self.sock is None else str(self.sock.getsockname()[0])

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def pid(self) -> int:
        """The process we started: the only worker, or the supervisor of several."""
        return self.process.pid

    def listeners(self) -> set[int]:
        """The inodes of the listening sockets: ours, or granian's (none until it binds; one
        per worker when its workers each bind with SO_REUSEPORT)."""
        if self.sock is not None:
            return self._ours
        return procfs.listener_inodes(self._port)

    @property
    def worker_pids(self) -> list[int]:
        """Every worker process seen so far, in the order seen (a restarted worker adds its
        pid): the processes of our tree holding the listening socket, as /proc says."""
        listeners = self.listeners()
        if listeners and self.process.poll() is None:
            self._note(procfs.workers(self.pid, listeners))
        return list(self._seen)

    def _note(self, pids: list[int]) -> None:
        self._seen.extend(pid for pid in pids if pid not in self._seen)

    def output(self) -> str:
        """The latest of what the server printed (its last `TAIL_LINES` lines)."""
        with self._lock:
            return "".join(self.lines)

    def lines_since(self, mark: int) -> list[str]:
        """The lines read after `lines_read` was `mark` (those the tail still holds)."""
        with self._lock:
            return list(self.lines)[
                len(self.lines) - min(self.lines_read - mark, len(self.lines)) :
            ]

    def read_output(self) -> None:
        """Collect what the server prints, whole lines, into the tail; once it is ready, hand
        each line to the echo thread. Never blocks on `echo`: a line the echo thread has no room
        for is counted in `unechoed`, so a stalled terminal never stops the workers' output."""
        stdout = self.process.stdout
        if stdout is None:
            raise ServerError("the server's output is not a pipe")
        for line in stdout:
            with self._lock:
                self.lines.append(line)
                self.lines_read += 1
                if self.ready.is_set():
                    self._hand_on(line)
        if self._echoer is not None:  # end of output: the echo thread ends when it gets there
            try:
                self._echo_queue.put(None, timeout=ECHO_DRAIN)
            except queue.Full:
                pass  # a stalled terminal: `stop()` leaves that thread behind

    def _hand_on(self, line: str | None) -> None:
        if self._echoer is None:
            return
        try:
            self._echo_queue.put_nowait(line)
        except queue.Full:
            if line is not None:
                self.unechoed += 1

    def start_echo(self, echo: TextIO | None) -> None:
        """Pass what was printed so far, then every later line, on to `echo` on a thread of its
        own, one whole line at a time (so two workers' lines never mix mid-line)."""
        if echo is None:
            return
        self._echoer = threading.Thread(
            target=self._echo, args=(echo,), name=f"{self.name}-echo", daemon=True
        )
        for line in self.lines:
            self._hand_on(line)
        self._echoer.start()

    def _echo(self, echo: TextIO) -> None:
        while (line := self._echo_queue.get()) is not None:
            try:
                echo.write(line)
                echo.flush()
            except (OSError, ValueError):  # the terminal went away: keep draining, show none
                self.unechoed += 1

    def wait(self, timeout: float | None = None) -> int | None:
        """Until the server exits (or `timeout`); its exit status, or None if still running."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def terminate(self) -> None:
        """SIGTERM, once, without waiting: servers stopped together shut down side by side,
        then `stop()` waits for each (sending no second SIGTERM, which may mean "hurry")."""
        if not self._terminated and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self._terminated = True

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM (unless `terminate()` sent it), wait up to `timeout` (by default the options'
        `stop_timeout`), then SIGKILL the whole process group. Idempotent."""
        timeout = self.options.stop_timeout if timeout is None else timeout
        proc = self.process
        # Its processes now: once it has exited, its orphans are no longer below it.
        tree = procfs.descendants(proc.pid)
        try:
            if proc.poll() is None:
                self.terminate()
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
            # SIGKILL is delivered at once but a process takes a moment to die: return when
            # none of them runs any more (bounded), so that no caller sees a survivor.
            deadline = time.monotonic() + timeout
            while any(procfs.alive(pid) for pid in tree) and time.monotonic() < deadline:
                time.sleep(_POLL)
            if self.sock is not None:
                self.sock.close()
            if self._reader is not None:
                self._reader.join(timeout)
            if self._echoer is not None:
                # Bounded: an echo stuck on a stalled terminal is left behind, not waited for.
                self._echoer.join(min(timeout, ECHO_DRAIN))
            # The reader has seen end-of-file; closing our end of the pipe keeps the
            # Popen object from leaking it (a ResourceWarning under `-W error`).
            if proc.stdout is not None and (self._reader is None or not self._reader.is_alive()):
                proc.stdout.close()
        return proc.returncode

    def wait_ready(self, deadline: float) -> None:
        """Until every worker has accepted a connection of ours (by `deadline`, monotonic).

        A connection waits in the listen queue with inode 0 until a worker accepts it; we
        hold each open until /proc names the worker that took it, then close it unused (no
        request, so no app and no access log sees it) and connect again, until each of the
        server's workers has taken one. Raises `ServerError` if the server exits first.
        """
        accepted = self._accepted
        while True:
            listeners = self._alive_listeners(deadline)
            current = procfs.workers(self.pid, listeners)
            if len(current) == self.workers and accepted >= set(current):
                self._note(current)
                return
            pid = self._accept_one(deadline)
            if pid is not None:
                accepted.add(pid)

    def _check_workers(self) -> None:
        """A supervisor that restarts a worker failing at import (uvicorn's) would keep us
        waiting until the deadline: a worker gone before it accepted is an error now."""
        listeners = self.listeners()
        if listeners:
            self._starting.update(procfs.workers(self.pid, listeners))
        for pid in sorted(self._starting - self._accepted - {self.pid}):
            if not procfs.alive(pid):
                raise ServerError(
                    f"{self.name} {self.options.app}: worker {pid} exited before it was ready"
                )

    def _alive_listeners(self, deadline: float) -> set[int]:
        """The listening sockets' inodes, once there is one; raises if the server is gone."""
        while True:
            self._check_alive(deadline)
            listeners = self.listeners()
            if listeners:
                return listeners
            time.sleep(_POLL)

    def _check_alive(self, deadline: float) -> None:
        self._check_workers()
        status = self.process.poll()
        if status is not None:
            raise ServerError(
                f"{self.name} {self.options.app} exited with status {status} before it was ready"
            )
        if time.monotonic() > deadline:
            raise ServerError(
                f"{self.name} {self.options.app} was not ready within "
                f"{self.options.ready_timeout:g} s (every one of its {self.workers} worker(s) "
                "accepting a connection)"
            )

    def _accept_one(self, deadline: float) -> int | None:
        """Connect, and return the worker that accepted (None if refused: not bound yet)."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as conn:
            try:
                conn.connect((self.host, self.port))
            except OSError:
                time.sleep(_POLL)
                return None
            client_port = int(conn.getsockname()[1])
            while True:
                self._check_alive(deadline)
                inode = procfs.connection_inode(self.port, client_port)
                if inode is None:
                    return None  # the server closed it
                if inode != 0:
                    pid = procfs.accepted_by(self.pid, inode)
                    if pid is not None:
                        return pid
                time.sleep(_POLL)


def start(options: ServerOptions | None = None, *, echo: TextIO | None = None) -> Server:
    """Start a server and wait until every worker is ready.

    Use it as a context manager (`with start(options) as server:`) so it is always stopped.
    `echo` receives every line the server prints, once it is ready. Raises `OSError` when the
    address cannot be bound, `ServerError` when the server exits or is not ready within
    `ready_timeout`.
    """
    options = options or ServerOptions()
    deadline = time.monotonic() + options.ready_timeout
    tries = _PORT_TRIES if not options.takes_socket and options.port == 0 else 1
    for attempt in range(1, tries + 1):
        server = _start_once(options, echo)
        try:
            server.wait_ready(deadline)
        except ServerError as exc:
            server.stop()
            # granian exited because someone took the port we picked for it: pick another.
            if attempt < tries and _taken_by_another(server):
                continue
            # Stopped, the server has said all it will: what it printed says why.
            raise ServerError(f"{exc}:\n{server.output()}") from None
        except BaseException:
            server.stop()
            raise
        with server._lock:
            server.ready.set()
            server.start_echo(echo)
        return server
    raise AssertionError("unreachable: the last try returns or raises")


def _start_once(options: ServerOptions, echo: TextIO | None) -> Server:
    """Bind (or, for granian, pick) the port and start the server's process on it."""
    sock: socket.socket | None = None
    if options.takes_socket:
        sock = bind(options.host, options.port, nodelay=options.nodelay)
        port = int(sock.getsockname()[1])
    else:
        port = _pick_port(options.host, options.port)
    fds = () if sock is None else (sock.fileno(),)
    try:
        process = subprocess.Popen(
            options.command(sock.fileno() if sock is not None else -1, port),
            pass_fds=fds,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**options.environment(), **_colour(echo)},
            start_new_session=True,
        )
    except BaseException:
        if sock is not None:
            sock.close()
        raise
    server = Server(options, process, sock, port)
    server._reader = threading.Thread(
        target=server.read_output, name=f"{options.server}-output", daemon=True
    )
    server._reader.start()
    return server


def _pick_port(host: str, port: int) -> int:
    """A port for a server that binds its own (granian): `port`, or a free one for port 0.

    We bind it to learn that it is free, then close it for the server. Another process may take
    it in between; then the server exits, and `start` tries a new one (`_taken_by_another`).
    """
    with bind(host, port) as sock:
        return int(sock.getsockname()[1])


def _taken_by_another(server: Server) -> bool:
    """Whether the port we picked for a server that has exited is now held by someone else."""
    return server.process.poll() is not None and bool(procfs.listener_inodes(server.port))


def _colour(echo: TextIO | None) -> dict[str, str]:
    """The workers write to our pipe; when we pass their lines on to a terminal, say so, so
    their log lines are coloured as if they wrote there themselves."""
    return {"FORCE_COLOR": "1"} if echo is not None and colour.wanted(echo) else {}


def _raise_interrupt(signum: int) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def terminate_as_interrupt(*also: int) -> Iterator[Callable[[], bool]]:
    """While running, SIGTERM (and the signals in `also`) raise KeyboardInterrupt, so servers
    are stopped on the way out; yields whether one has come.

    Passing SIGINT in `also` matters around `asyncio.run`: given Python's own SIGINT handler,
    it turns a first Ctrl-C into a cancel of its main task, which code awaiting at that moment
    may swallow (a client session closing), and then returns as if nothing had been asked.
    Under ours the interrupt is raised on the main thread, and remembered even if something
    catches it: where it is, or, while an event loop runs there, from that loop's next callback.
    """
    came: list[int] = []

    def interrupt(signum: int, frame: FrameType | None) -> None:
        came.append(signum)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop on the main thread: raise where it is
            raise KeyboardInterrupt(f"signal {signum}") from None
        # Not here: the handler may run halfway through the loop's own bookkeeping (a gather
        # counting its children), and asyncio.run's cleanup would then wait forever for a
        # child it never hears from. Raised from a callback, it leaves the loop whole.
        loop.call_soon_threadsafe(_raise_interrupt, signum)

    # A signal in `also` that the process was started ignoring (nohup's SIGINT) stays ignored.
    chosen = [signal.SIGTERM, *(s for s in also if signal.getsignal(s) is not signal.SIG_IGN)]
    previous = {signum: signal.signal(signum, interrupt) for signum in chosen}
    try:
        yield lambda: bool(came)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
