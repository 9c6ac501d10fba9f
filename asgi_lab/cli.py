"""`asgi-lab`: serve a layer with the probe on, run the lab's experiments, take the tour."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from asgi_lab import __version__
from asgi_lab.catalogue import LAYERS, MAX_THREADS, THREADS_ENV

#: More worker processes than this on one machine is a mistake, not an experiment.
MAX_WORKERS = 64


def bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
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
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}")
    return value


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """The uvicorn options every command that starts a server shares (names as uvicorn's)."""
    parser.add_argument("--layer", choices=LAYERS, default="raw", help="which app to serve")
    parser.add_argument(
        "--workers", type=bounded(1, MAX_WORKERS), default=1, help="worker processes"
    )
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    parser.add_argument("--http", choices=("auto", "h11", "httptools"), default="auto")
    parser.add_argument(
        "--threads",
        type=bounded(1, MAX_THREADS),
        default=None,
        help="threadpool tokens per worker (anyio: 40)",
    )


def serve(args: argparse.Namespace) -> int:
    """Run uvicorn on the chosen layer until Ctrl-C."""
    import uvicorn

    from asgi_lab.lab.servers import bind_loopback

    if args.threads is not None:
        # Workers are separate processes: the environment is how the setting reaches them.
        os.environ[THREADS_ENV] = str(args.threads)
    # We bind the socket ourselves, as the lab does, to set TCP_NODELAY on it (uvicorn does not
    # on a socket it is handed) and to print the real port when --port 0 lets the kernel choose.
    try:
        sock = bind_loopback(host=args.host, port=args.port)
    except OSError as exc:
        print(f"asgi-lab serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    with sock:
        host, port = sock.getsockname()[:2]
        where = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        print(f"asgi-lab {__version__}: serving asgi_lab.{args.layer}:app on {where}", flush=True)
        print(f"  try: curl -i {where}/quick")
        print(f"       curl -i '{where}/sync/sleep?seconds=1'")
        print(f"       curl '{where}/_lab/records?limit=5'", flush=True)
        uvicorn.run(
            f"asgi_lab.{args.layer}:app",
            fd=sock.fileno(),
            workers=args.workers,
            loop=args.loop,
            http=args.http,
            # uvicorn's access log runs on the loop thread and halves throughput; the probe's
            # records say more, off the loop.
            access_log=False,
        )
    return 0


def scale(text: str) -> float:
    """An argparse type: a scale factor above 0 (1 is the experiment's default)."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"expected a number above 0 and at most 100, got {text!r}")
    return value


def experiment(args: argparse.Namespace) -> int:
    """Run one experiment, or list them."""
    from asgi_lab.lab import runner

    if args.list:
        print(runner.listing())
        return 0
    if args.name is None:
        print("asgi-lab experiment: give an experiment NAME, or --list", file=sys.stderr)
        return 2
    return runner.run_one(
        args.name, layer=args.layer, scale=args.scale, json_path=args.json, quiet=args.quiet
    )


def tour(args: argparse.Namespace) -> int:
    """Run every experiment at its tour scale, then print a one-screen summary."""
    from asgi_lab.lab import runner

    return runner.run_tour(layer=args.layer, json_path=args.json, quiet=args.quiet)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--layer", choices=LAYERS, default="raw", help="which app to serve")
    parser.add_argument("--json", metavar="PATH", help="write results and every record as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asgi-lab", description=__doc__)
    parser.add_argument("--version", action="version", version=f"asgi-lab {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = commands.add_parser("serve", help="serve a layer under uvicorn with the probe on")
    add_server_options(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    p.add_argument("--port", type=port, default=8000)
    p.set_defaults(run=serve)

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
    p.set_defaults(run=experiment)

    p = commands.add_parser(
        "tour",
        help="every experiment, scaled to about a minute, then a summary",
        description="Run every experiment at a scale that takes about a minute in all, then print "
        "a one-screen summary. Exit status 1 if any verdict fails.",
    )
    add_run_options(p)
    p.set_defaults(run=tour)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    result: int = args.run(args)
    return result
