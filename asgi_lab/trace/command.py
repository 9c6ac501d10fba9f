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
from asgi_lab.live import Live, feeding
from asgi_lab.records import read_stalls, read_trace
from asgi_lab.redact import printable
from asgi_lab.serving import ServerOptions
from asgi_lab.timeline import build
from asgi_lab.timeline.report import write_html, write_perfetto
from asgi_lab.trace.summary import summary

__all__ = ["interrupt_on_sigint", "run"]

#: The factory each worker calls: the user's app, wrapped (see `trace/app.py`).
WRAPPER = "asgi_lab.trace.app:app"
#: The same app for a server that calls no factory (daphne), made on its first look-up.
WRAPPED = "asgi_lab.trace.app:traced"


def run(
    options: ServerOptions,
    *,
    keep: str | None = None,
    html_path: str | None = None,
    perfetto_path: str | None = None,
    live: contextlib.AbstractContextManager[Live | None] | None = None,
) -> int:
    """Serve until interrupted, then summarise. `options.settings.app` names the user's app;
    records go to `keep` (kept) or a temporary directory (removed after the summary); `live`,
    when it opens a live page, is fed by every worker while they run."""
    trace_dir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="asgi-lab-trace-"))
    settings = options.settings.replace(trace_dir=str(trace_dir))
    if options.server == "daphne":
        options = replace(options, app=WRAPPED, factory=False, settings=settings)
    else:
        options = replace(options, app=WRAPPER, factory=True, settings=settings)
    target = options.settings.app
    status = 0
    server: serving.Server | None = None
    try:
        try:
            with (
                interrupt_on_sigint(),
                serving.terminate_as_interrupt(),
                live or contextlib.nullcontext() as page,
            ):
                with serving.start(feeding(options, page), echo=sys.stderr) as server:
                    print(f"asgi-lab trace: serving {target} on {server.url}", flush=True)
                    if page is not None:
                        print(f"  live page: {page.url}", flush=True)
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
        trace = read_trace(trace_dir)
        records = trace.records
        # 100 columns, or a narrower terminal's: long paths and file:line wrap in their cells.
        console().print(summary(records, trace, read_stalls(trace_dir)))
        if records and html_path:
            write_html(html_path, build(records), f"asgi-lab trace {target}")
            print(f"wrote {html_path}", file=sys.stderr)
        if records and perfetto_path:
            write_perfetto(perfetto_path, records)
            print(f"wrote {perfetto_path}", file=sys.stderr)
        if keep:
            print(f"records kept in {trace_dir}", file=sys.stderr)
        if server is not None and server.unechoed:
            print(
                f"asgi-lab trace: {server.unechoed} lines of the server's output were not shown "
                "(the terminal did not keep up)",
                file=sys.stderr,
            )
        cut = sum(1 for r in records if r.cut_off)
        if cut:
            wait = options.timeout_graceful_shutdown
            print(
                f"asgi-lab trace: the drain was incomplete: {cut} request(s) cut off by the "
                f"shutdown"
                + (f" after --timeout-graceful-shutdown {wait} s" if wait is not None else ""),
                file=sys.stderr,
            )
            status = 1
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


#: The server's last lines quoted when it did not start: what it said last says why.
REASON_LINES = 12


def _reason(output: str) -> str:
    """Why the server did not start: the line of its output that says so (an exception's
    message); when none does, its last lines as it printed them."""
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    if not lines:
        return "it exited without a word"
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if "startup failed" in line and index > 0:
            # The app's own message (lifespan.startup.failed), which the server logs just
            # before its "Application startup failed", says more than that line does.
            return f"{_after_level(lines[index - 1])} (the app's lifespan startup failed)"
        if "Error" in line or "error" in line or "must" in line or "failed" in line:
            kind, sep, message = line.strip().partition(": ")
            return message if sep and kind.split(".")[-1].endswith("Error") else line.strip()
    last = "\n".join(f"  | {printable(line)}" for line in lines[-REASON_LINES:])
    return f"its last lines:\n{last}"


def _after_level(line: str) -> str:
    """A log line without its `ERROR:` level prefix."""
    level, sep, rest = line.partition(":")
    return rest.strip() if sep and level.strip().isupper() else line.strip()
