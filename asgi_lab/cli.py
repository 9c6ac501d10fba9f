"""`asgi-lab`: serve a layer with the probe on, run the lab's experiments, take the tour."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from asgi_lab import __version__, extras, interpreter, probe, serving, settings
from asgi_lab.catalogue import LAYERS, app_path
from asgi_lab.extras import MissingExtra
from asgi_lab.interpreter import InterpreterError
from asgi_lab.live import Live, feeding, open_live
from asgi_lab.serving import RUNTIME_MODES, SERVERS, ServerOptionError, ServerOptions
from asgi_lab.settings import SettingError, Settings, TraceSettings, strict_number

__all__ = ["build_parser", "main"]

#: More worker processes than this on one machine is a mistake, not an experiment.
MAX_WORKERS = 64


def bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(strict_number(text, whole=True))
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"expected a whole number from {low} to {high}, got {text!r}"
            )
        return value

    return parse


def port(text: str) -> int:
    """An argparse type: a TCP port, 0 to 65535 (0 lets the kernel choose)."""
    try:
        value = int(strict_number(text, whole=True))
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}")
    return value


def add_server_choice(parser: argparse.ArgumentParser, servers: Sequence[str]) -> None:
    parser.add_argument(
        "--server",
        choices=servers,
        default="uvicorn",
        help="which ASGI server runs the app (default: uvicorn; the others: asgi-lab[servers])",
    )


def add_server_options(parser: argparse.ArgumentParser, servers: Sequence[str]) -> None:
    """The options every command that serves shares: the server, uvicorn's options (names as
    uvicorn's, mapped to the chosen server's), granian's own knobs, and ours."""
    add_server_choice(parser, servers)
    parser.add_argument(
        "--workers", type=bounded(1, MAX_WORKERS), default=1, help="worker processes"
    )
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    parser.add_argument("--http", choices=("auto", "h11", "httptools"), default="auto")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=port, default=8000, help="0 lets the kernel choose")
    parser.add_argument(
        "--timeout-graceful-shutdown",
        type=bounded(0, 3600),
        default=None,
        metavar="SECONDS",
        help=f"on SIGTERM, requests in flight get this long, then are cut off and recorded as "
        f"such (default {GRACEFUL_DEFAULT} under uvicorn and hypercorn)",
    )
    parser.add_argument(
        "--threads",
        type=settings.argument("threads"),
        default=None,
        help="threadpool tokens per worker (anyio: 40)",
    )
    add_python_option(parser)
    granian = parser.add_argument_group("granian's own knobs (--server granian only)")
    granian.add_argument(
        "--runtime-threads", type=bounded(1, MAX_WORKERS), default=None, help="Rust threads"
    )
    granian.add_argument(
        "--runtime-mode",
        choices=RUNTIME_MODES,
        default=None,
        help="st: a runtime per thread; mt: one shared",
    )
    granian.add_argument(
        "--blocking-threads",
        type=bounded(1, MAX_WORKERS),
        default=None,
        help="threads running Python (granian takes only 1 for ASGI)",
    )


def add_python_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--python",
        metavar="PATH",
        default=None,
        help="run the servers on this interpreter (a 3.13t or 3.14t, say); it needs asgi-lab "
        "and the server installed (default: the Python running asgi-lab)",
    )


def add_live_options(parser: argparse.ArgumentParser) -> None:
    """The live page's flags (`asgi_lab.live`)."""
    parser.add_argument(
        "--live", action="store_true", help="serve a page showing every worker as it runs"
    )
    parser.add_argument("--live-port", type=port, default=0, help="its port (0: any; printed)")
    parser.add_argument(
        "--live-host", default="127.0.0.1", help="its address (default: loopback; others warn)"
    )


def live_page(args: argparse.Namespace) -> AbstractContextManager[Live | None]:
    """The live page, open for the block, when `--live` asks for one."""
    if not args.live:
        return contextlib.nullcontext()
    return open_live(args.live_host, args.live_port)


#: What `serve` and `trace` give requests in flight at a shutdown, where the server can bound it:
#: below the parent's own wait, so that the workers cut them off and write their records.
GRACEFUL_DEFAULT = 5


def graceful(args: argparse.Namespace) -> int | None:
    """`--timeout-graceful-shutdown`, or our default where the chosen server takes one."""
    if args.timeout_graceful_shutdown is not None:
        return int(args.timeout_graceful_shutdown)
    return GRACEFUL_DEFAULT if args.server in serving.GRACEFUL else None


def server_options(
    args: argparse.Namespace, app: str, settings: Settings, **more: Any
) -> ServerOptions:
    """The `ServerOptions` of `add_server_options`' flags, serving `app` with `settings`; a
    `--python` that cannot run the server raises `interpreter.InterpreterError`."""
    python = None if args.python is None else interpreter.check(args.python, args.server)
    return ServerOptions(
        python=None if python is None else python.executable,
        app=app,
        server=args.server,
        runtime_threads=args.runtime_threads,
        runtime_mode=args.runtime_mode,
        blocking_threads=args.blocking_threads,
        timeout_graceful_shutdown=graceful(args),
        workers=args.workers,
        loop=args.loop,
        http=args.http,
        host=args.host,
        port=args.port,
        settings=settings,
        **more,
    )


def settings_from(args: argparse.Namespace, read: type[TraceSettings] = Settings) -> Settings:
    """The environment's `ASGI_LAB_*` settings that `read` holds, checked here rather than in
    each worker, with the command line's on top; the others keep their defaults."""
    base = Settings.of(read.from_env())
    return base if args.threads is None else base.replace(threads=args.threads)


def serve(args: argparse.Namespace) -> int:
    """Run the chosen server on the chosen layer until Ctrl-C or SIGTERM, then stop every worker."""
    extras.require("lab", "asgi-lab serve")
    options = server_options(args, app_path(args.layer), settings_from(args))
    try:
        with (
            serving.terminate_as_interrupt(),
            live_page(args) as live,
            serving.start(feeding(options, live), echo=sys.stderr) as server,
        ):
            where = server.url
            print(f"asgi-lab {__version__}: serving {options.app} on {where}", flush=True)
            if live is not None:
                print(f"  live page: {live.url}", flush=True)
            print(f"  try: curl -i {where}/quick")
            print(f"       curl -i '{where}/sync/sleep?seconds=1'")
            print(f"       curl '{where}/_lab/records?limit=5'", flush=True)
            status = server.wait()
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        print(f"asgi-lab serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    except serving.ServerError as exc:
        print(f"asgi-lab serve: {exc}", file=sys.stderr)
        return 1
    return 0 if status in (0, None) else 1


def trace(args: argparse.Namespace) -> int:
    """Serve the user's app with the probe around it until Ctrl-C, then summarise."""
    from asgi_lab.trace.command import run

    # Only the variables a traced worker reads: a lab-only one is no concern of the user's app.
    settings = settings_from(args, TraceSettings).replace(app=args.app, app_factory=args.factory)
    if args.block_ms is not None:
        settings = settings.replace(block_ms=args.block_ms)
    if args.otlp is not None:
        # Checked here, not in each worker: a missing extra should not be N failed startups.
        from asgi_lab.probe.otel import require

        try:
            require("--otlp")
        except ImportError as exc:
            print(f"asgi-lab trace: {exc}", file=sys.stderr)
            return 2
        settings = settings.replace(otlp=args.otlp)
    if args.live and settings.block_ms == 0:
        print("asgi-lab trace: --live needs the watchdog: drop --block-ms 0", file=sys.stderr)
        return 2
    options = server_options(args, args.app, settings, app_dir=args.app_dir)
    return run(
        options,
        keep=args.trace_dir,
        html_path=args.html,
        perfetto_path=args.perfetto,
        live=live_page(args),
    )


def import_string(text: str) -> str:
    """An argparse type: `module:attribute`, as uvicorn takes it."""
    module, sep, attribute = text.partition(":")
    if not (sep and module and attribute):
        raise argparse.ArgumentTypeError(
            f'Import string "{text}" must be in format "<module>:<attribute>".'
        )
    return text


def scale(text: str) -> float:
    """An argparse type: a scale factor above 0 (1 is the experiment's default)."""
    try:
        value = strict_number(text, whole=False)
    except ValueError:
        value = 0.0
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"expected a number above 0 and at most 100, got {text!r}")
    return value


def experiment(args: argparse.Namespace) -> int:
    """Run one experiment, or list them."""
    extras.require("lab", "asgi-lab experiment")
    from asgi_lab.lab import runner

    if args.list:
        print(runner.listing())
        return 0
    if args.name is None:
        print("asgi-lab experiment: give an experiment NAME, or --list", file=sys.stderr)
        return 2
    return runner.run_one(
        args.name,
        layer=args.layer,
        server=args.server,
        scale=args.scale,
        json_path=args.json,
        html_path=args.html,
        perfetto_path=args.perfetto,
        svg_path=args.svg,
        python=args.python,
        quiet=args.quiet,
        live=live_page(args),
    )


def tour(args: argparse.Namespace) -> int:
    """Run every experiment of the tour at its tour scale, then print a one-screen summary."""
    extras.require("lab", "asgi-lab tour")
    from asgi_lab.lab import runner

    return runner.run_tour(
        layer=args.layer,
        server=args.server,
        json_path=args.json,
        report_dir=args.report,
        python=args.python,
        quiet=args.quiet,
        live=live_page(args),
    )


def top(args: argparse.Namespace) -> int:
    """Draw a running live page's workers in the terminal."""
    import httpx

    from asgi_lab.live.feed import FeedError, events_url
    from asgi_lab.live.top import run as draw

    try:
        where = events_url(args.url)
        drawn = draw(args.url, frames=args.frames)
    except FeedError as exc:
        print(f"asgi-lab top: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    except httpx.HTTPError as exc:
        print(f"asgi-lab top: cannot read {where}: {exc}", file=sys.stderr)
        return 1
    if args.frames is not None and drawn < args.frames:
        print(f"asgi-lab top: the page closed after {drawn} frames", file=sys.stderr)
        return 1
    return 0


def report(args: argparse.Namespace) -> int:
    """Print a trace directory's timeline; write it as HTML and as a Perfetto trace if asked."""
    from asgi_lab.timeline.report import report_trace

    return report_trace(args.trace_dir, html_path=args.html, perfetto_path=args.perfetto)


def add_export_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--html", metavar="PATH", help="write a self-contained HTML timeline")
    parser.add_argument(
        "--perfetto", metavar="PATH", help="write a Chrome trace (JSON) for ui.perfetto.dev"
    )


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--layer", choices=LAYERS, default="raw", help="which app to serve")
    # daphne runs one process and takes no --workers: not for the experiments, which need it.
    add_server_choice(parser, SERVERS[:3])
    parser.add_argument("--json", metavar="PATH", help="write results and every record as JSON")
    add_python_option(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asgi-lab", description=__doc__)
    # Which build of the probe this interpreter has: the default pure Python, or the hot path
    # compiled by mypyc (ASGI_LAB_COMPILE=1, see asgi_lab/probe/hot.py).
    build = "compiled by mypyc" if probe.compiled else "pure Python"
    parser.add_argument(
        "--version", action="version", version=f"asgi-lab {__version__} (probe: {build})"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = commands.add_parser(
        "serve", help="serve a layer under uvicorn (or --server) with the probe"
    )
    p.add_argument("--layer", choices=LAYERS, default="raw", help="which app to serve")
    add_server_options(p, SERVERS)
    add_live_options(p)
    p.set_defaults(run=serve)

    p = commands.add_parser(
        "trace",
        help="serve YOUR app under uvicorn (or --server) with the probe, a log line and the "
        "loop watchdog",
        description="Serve any ASGI app (FastAPI, Starlette, a raw callable) under uvicorn (or "
        "granian, hypercorn, daphne: --server) with "
        "the probe around it, unchanged: a log line per request naming worker, loop and thread, "
        "and a watchdog naming the request and the line that blocks the loop. Ctrl-C (or "
        "SIGTERM) stops every worker and prints a summary.",
    )
    p.add_argument("app", type=import_string, metavar="MODULE:APP", help="the app to serve")
    p.add_argument("--factory", action="store_true", help="APP is a factory to call")
    p.add_argument("--app-dir", default=".", help="import APP from here (default: .)")
    add_server_options(p, SERVERS)
    p.add_argument(
        "--trace-dir", metavar="DIR", help="keep every worker's records-<pid>.jsonl here"
    )
    p.add_argument(
        "--block-ms",
        type=settings.argument("block_ms"),
        default=None,
        help="report a loop stalled this long (default 100; 0: no watchdog)",
    )
    p.add_argument(
        "--otlp",
        type=settings.argument("otlp"),
        metavar="URL",
        help="every worker exports spans over OTLP/HTTP to this collector (http://host:4318)",
    )
    add_export_options(p)
    add_live_options(p)
    p.set_defaults(run=trace)

    p = commands.add_parser(
        "experiment",
        help="run one experiment against real uvicorn servers and judge its claims",
        description="Run one experiment: start its servers, drive them, read every worker's "
        "records, print measured value, bound, ratio and verdict. "
        "Exit status 1 if a verdict fails.",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="the experiment (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument(
        "--scale", type=scale, default=None, help="multiply the experiment's durations (default 1)"
    )
    add_run_options(p)
    add_export_options(p)
    p.add_argument("--svg", metavar="PATH", help="write the timeline as an SVG picture")
    add_live_options(p)
    p.set_defaults(run=experiment)

    p = commands.add_parser(
        "tour",
        help="every experiment, scaled to about a minute, then a summary",
        description="Run every experiment at a scale that takes about a minute in all, then print "
        "a one-screen summary. Experiments listed with TOUR '-' (too long) run only by name. "
        "Exit status 1 if any verdict fails.",
    )
    add_run_options(p)
    p.add_argument("--report", metavar="DIR", help="write DIR/index.html and a page per experiment")
    add_live_options(p)
    p.set_defaults(run=tour)

    p = commands.add_parser(
        "top",
        help="a running live page's workers, drawn in the terminal",
        description="Read the feed of a live page (the URL that --live printed) and draw, per "
        "worker, the requests in flight, its pools, loop lag, stalls, req/s and restarts, "
        "redrawn five times a second until Ctrl-C or the page closes.",
    )
    p.add_argument("url", metavar="URL", help="the live page, as printed: http://127.0.0.1:PORT/")
    p.add_argument(
        "--frames",
        type=bounded(1, 1_000_000),
        default=None,
        help="stop after this many frames (exit 1 if the page closes first)",
    )
    p.set_defaults(run=top)

    p = commands.add_parser(
        "report",
        help="the timeline of a trace directory, in the terminal, as HTML, for Perfetto",
        description="Read every records-<pid>.jsonl in TRACE_DIR (ASGI_LAB_TRACE_DIR of any "
        "server under the probe) and print its timeline. Exit status 2 if there is nothing "
        "to show.",
    )
    p.add_argument("trace_dir", metavar="TRACE_DIR", help="a directory of probe records")
    add_export_options(p)
    p.set_defaults(run=report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        result: int = args.run(args)
    except (SettingError, ServerOptionError, InterpreterError) as exc:
        print(f"asgi-lab: {exc}", file=sys.stderr)
        return 2
    except MissingExtra as exc:
        print(exc, file=sys.stderr)
        return 2
    return result
