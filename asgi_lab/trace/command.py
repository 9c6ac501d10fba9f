"""`asgi-lab trace MODULE:app`: serve any ASGI app with the probe, the log line and the watchdog
around it, until Ctrl-C (SIGINT) or SIGTERM, each handled whatever the parent left them as; then
stop every worker and summarise their records."""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from asgi_lab import serving
from asgi_lab.console import console
from asgi_lab.lab.traces import write_html, write_perfetto
from asgi_lab.records import read_records, read_stalls
from asgi_lab.serving import ServerOptions
from asgi_lab.timeline import build
from asgi_lab.trace.summary import summary

__all__ = ["interrupt_on_sigint", "run"]

#: The app uvicorn imports in each worker: the user's app, wrapped (see `trace/app.py`).
WRAPPER = "asgi_lab.trace.app:app"


def run(
    options: ServerOptions,
    *,
    keep: str | None = None,
    html_path: str | None = None,
    perfetto_path: str | None = None,
) -> int:
    """Serve until interrupted, then summarise. `options.settings.app` names the user's app;
    records go to `keep` (kept) or a temporary directory (removed after the summary)."""
    trace_dir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="asgi-lab-trace-"))
    settings = options.settings.replace(trace_dir=str(trace_dir))
    options = replace(options, app=WRAPPER, factory=True, settings=settings)
    target = options.settings.app
    status = 0
    try:
        try:
            with interrupt_on_sigint(), serving.terminate_as_interrupt():
                with serving.start(options, echo=sys.stderr) as server:
                    print(f"asgi-lab trace: serving {target} on {server.url}", flush=True)
                    print("  Ctrl-C stops every worker and prints a summary", flush=True)
                    try:
                        server.wait()
                    except KeyboardInterrupt:
                        pass
        except KeyboardInterrupt:
            pass
        except serving.ServerError as exc:
            print(f"asgi-lab trace: {target} did not start: {_reason(str(exc))}", file=sys.stderr)
            return 1
        records = read_records(trace_dir)
        # 100 columns, or a narrower terminal's: long paths and file:line wrap in their cells.
        console().print(summary(records, read_stalls(trace_dir)))
        if records and html_path:
            write_html(html_path, build(records), f"asgi-lab trace {target}")
            print(f"wrote {html_path}", file=sys.stderr)
        if records and perfetto_path:
            write_perfetto(perfetto_path, records)
            print(f"wrote {perfetto_path}", file=sys.stderr)
        if keep:
            print(f"records kept in {trace_dir}", file=sys.stderr)
    finally:
        if not keep:
            shutil.rmtree(trace_dir, ignore_errors=True)
    return status


@contextlib.contextmanager
def interrupt_on_sigint() -> Iterator[None]:
    """While running, SIGINT raises KeyboardInterrupt, whatever this process inherited: Python
    leaves SIGINT alone when it starts ignored, as it does for a job a script sends to the
    background (`asgi-lab trace app:app &`), and then `kill -INT` would stop nothing."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _reason(output: str) -> str:
    """The line of uvicorn's output that says why (an exception's message), when there is one."""
    for line in reversed(output.splitlines()):
        if "Error" in line or "error" in line or "must" in line:
            kind, sep, message = line.strip().partition(": ")
            return message if sep and kind.split(".")[-1].endswith("Error") else line.strip()
    return output.strip().splitlines()[-1] if output.strip() else "it exited"
