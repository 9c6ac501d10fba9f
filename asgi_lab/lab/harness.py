"""What an experiment is: a name, a scale, and a `run(ctx)` that starts servers and judges claims.

An experiment module turns its `run` into an `Experiment` with `@experiment(...)`; the package
`experiments` lists them all, in tour order, in one tuple. `run` receives a `Context`
that starts servers (each with its own trace directory, read back after the server stopped),
collects verdicts and facts, and reports progress. `run_experiment` turns one run into a
`Result`, whatever happened: a failure becomes a failed result, and the servers are stopped on
every path out, Ctrl-C included, by the context managers they were started with. Given a live
page's socket (`asgi_lab.live`), every server's workers feed that page.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from asgi_lab import serving
from asgi_lab.catalogue import LAYERS, app_path
from asgi_lab.interpreter import PythonData
from asgi_lab.lab.clients import Reply
from asgi_lab.lab.observed import Observed, Served, TraceDir, served_summary
from asgi_lab.lab.verdicts import Verdict
from asgi_lab.records.schema import RecordData
from asgi_lab.serving import ServerOptions
from asgi_lab.settings import Settings

__all__ = [
    "Context",
    "Experiment",
    "Result",
    "experiment",
    "run_experiment",
]

Progress = Callable[[str], None]
Runner = Callable[["Context"], None]


@dataclass(frozen=True)
class Experiment:
    """A registered experiment and the scales it runs at: alone, in the tour, in the tests."""

    name: str
    title: str
    chapter: str
    run: Runner
    scale: float = 1.0
    tour_scale: float = 1.0
    tiny_scale: float = 0.2
    #: The app it serves when it serves one of its own rather than a `--layer` of the catalogue.
    serves: str | None = None


def experiment(
    name: str,
    *,
    title: str,
    chapter: str,
    scale: float = 1.0,
    tour_scale: float | None = None,
    tiny_scale: float = 0.2,
    serves: str | None = None,
) -> Callable[[Runner], Experiment]:
    """Make `run` an `Experiment` called `name`; `title` is the one line `--list` prints;
    `serves` names the app of its own it serves, whatever `--layer` says."""

    def make(run: Runner) -> Experiment:
        tour = scale if tour_scale is None else tour_scale
        return Experiment(name, title, chapter, run, scale, tour, tiny_scale, serves)

    return make


@dataclass
class Result:
    """What one run measured and concluded, with every record its servers wrote."""

    name: str
    title: str
    scale: float
    layer: str
    #: The app of its own the experiment served, if it did not serve `layer`.
    serves: str | None = None
    #: The server every phase ran on (`asgi_lab.serving.SERVERS`).
    server: str = "uvicorn"
    #: The Python the servers ran on, when not ours (`--python`), as it said before they started.
    python: PythonData | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    records: list[Observed] = field(default_factory=list)
    servers: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.verdicts) and all(v.passed for v in self.verdicts)

    def served(self) -> list[Served]:
        """Who served what, per phase and path."""
        return served_summary(self.records)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "scale": self.scale,
            "layer": self.layer,
            "serves": self.serves,
            "server": self.server,
            "python": None if self.python is None else self.python.to_json(),
            "passed": self.passed,
            "seconds": self.seconds,
            "error": self.error,
            "verdicts": [v.as_dict() for v in self.verdicts],
            "facts": [{"label": k, "value": v} for k, v in self.facts],
            "servers": self.servers,
            "served": [s.to_json() for s in self.served()],
            "records": [o.to_json() for o in self.records],
        }


class Context:
    """What an experiment's `run` works with: scale, servers, verdicts, facts, progress."""

    def __init__(self, result: Result, progress: Progress, live: str | None = None) -> None:
        self.result = result
        #: The socket of a live page every server's workers feed (`asgi-lab experiment --live`).
        self.live = live
        self.scale = result.scale
        self.layer = result.layer
        self._progress = progress
        self._started = time.perf_counter()

    @property
    def server_name(self) -> str:
        """The server every phase runs on (`asgi_lab.serving.SERVERS`)."""
        return self.result.server

    @property
    def app(self) -> str:
        """The import string of the layer under test."""
        return app_path(self.layer)

    def seconds(self, base: float) -> float:
        """`base` seconds at this run's scale."""
        return base * self.scale

    def step(self, message: str) -> None:
        elapsed = time.perf_counter() - self._started
        self._progress(f"[{self.result.name} {elapsed:5.1f}s] {message}")

    def check(self, verdict: Verdict) -> Verdict:
        self.result.verdicts.append(verdict)
        return verdict

    def fact(self, label: str, value: object) -> None:
        """A measured value worth printing that is not itself a claim."""
        self.result.facts.append((label, str(value)))

    @contextmanager
    def server(
        self,
        phase: str,
        app: str | None = None,
        *,
        workers: int = 1,
        threads: int | None = None,
        settings: Settings | None = None,
        nodelay: bool = True,
        factory: bool = False,
    ) -> Iterator[serving.Server]:
        """Start a server for one phase; once it has stopped, its records join the result.

        `settings` reach every worker, with `threads` on top and a trace directory of its own.
        """
        trace = TraceDir()
        chosen = settings or Settings()
        if chosen.log is None:
            # No log line: the records say more, and thousands of lines would only fill a pipe.
            chosen = replace(chosen, log="off")
        if threads is not None:
            chosen = replace(chosen, threads=threads)
        if self.live is not None:
            chosen = replace(chosen, live=self.live)
        options = ServerOptions(
            app=app or self.app,
            server=self.result.server,
            factory=factory,
            workers=workers,
            nodelay=nodelay,
            settings=replace(chosen, trace_dir=str(trace.path)),
            python=None if self.result.python is None else self.result.python.executable,
        )
        self.step(
            f"{phase}: starting {options.app} on {options.server} "
            f"(workers={workers}, nodelay={nodelay})"
        )
        try:
            with serving.start(options) as server:
                self.step(f"{phase}: ready at {server.url}, worker pids {server.worker_pids}")
                started = {
                    "phase": phase,
                    "app": options.app,
                    "pid": server.pid,
                    "worker_pids": server.worker_pids,
                    "workers": workers,
                    "threads": chosen.threads,
                    "nodelay": nodelay,
                }
                self.result.servers.append(started)
                yield server
                # A worker that died and was replaced (worker-kill) adds its new pid.
                started["worker_pids"] = server.worker_pids
            # Read only now: the workers have flushed on shutdown and exited.
            records = trace.read()
            self.result.records.extend(Observed(phase, r) for r in records)
            self.step(f"{phase}: stopped, {len(records)} records")
        finally:
            trace.cleanup()

    def records(self, phase: str, path: str | None = None) -> list[RecordData]:
        """The records of one phase (and path), in start order."""
        return [
            o.record
            for o in self.result.records
            if o.phase == phase and (path is None or o.record.path == path)
        ]

    def record_of(self, reply: Reply) -> RecordData:
        """The server's record of the request that gave `reply`."""
        for seen in self.result.records:
            if seen.record.id == reply.record_id and seen.record.pid == reply.pid:
                return seen.record
        raise LookupError(f"no record {reply.record_id!r} from pid {reply.pid}; server running?")


def run_experiment(
    exp: Experiment,
    *,
    scale: float | None = None,
    layer: str = "raw",
    server: str = "uvicorn",
    python: PythonData | None = None,
    progress: Progress = lambda _: None,
    live: str | None = None,
) -> Result:
    """Run one experiment; an exception becomes a failed result (Ctrl-C still propagates).

    `live` is the socket of a live page (`asgi_lab.live.Live.channel`) its servers feed;
    `python` runs its servers on another interpreter (`asgi_lab.interpreter.check` it first).
    """
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {', '.join(LAYERS)}, got {layer!r}")
    scale = exp.scale if scale is None else scale
    result = Result(exp.name, exp.title, scale, layer, exp.serves, server=server, python=python)
    if result.scale <= 0:
        raise ValueError(f"scale must be a number above 0, got {result.scale!r}")
    started = time.perf_counter()
    ctx = Context(result, progress, live)
    if python is not None:
        ctx.fact("servers' Python", f"{python.version} at {python.executable}")
        ctx.fact("servers' GIL at start", python.gil_words)
    try:
        exp.run(ctx)
    except Exception as exc:
        last = traceback.format_exception_only(exc)[-1].strip()
        result.error = last
        ctx.step(f"failed: {last}")
    finally:
        result.seconds = time.perf_counter() - started
    return result
