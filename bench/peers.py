"""The probe beside its peers on one FastAPI app: bare, the floors (a pass-through middleware, the
least probe), the probe (and its log line, watchdog and trace), OpenTelemetry's ASGI middleware
and FastAPI's own telemetry; and the raw hello bare, least-probed and probed. Side by side in
one run.

    python bench/peers.py [--rounds 5] [--seconds 3] [--connections 64]

Each variant is its own uvicorn process (uvloop + httptools) pinned to core 0, wrk pinned to core
1; the variants are interleaved round by round, and each figure is the median over rounds of that
round's ratio to the bare app in the same round ("paired"), so drift between rounds cancels out.
Both peers use the OpenTelemetry SDK's tracer provider with no exporter (see bench/apps/peers.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from asgi_lab.serving import start  # noqa: E402
from asgi_lab.settings import Settings  # noqa: E402
from bench import wrk  # noqa: E402


@dataclass(frozen=True)
class Variant:
    app: str
    adds: str = ""  # what the probe adds: "", "log", "watchdog" or "trace"
    app_dir: Path = ROOT  # the checkout the server imports the app (and asgi_lab) from


#: The variants of the FastAPI app, the first one bare (the same for each of its paths).
FASTAPI: dict[str, Variant] = {
    "bare": Variant("bench.apps.peers:bare"),
    "pass-through": Variant("bench.apps.peers:pass_through"),
    "least probe": Variant("bench.apps.peers:least_probe"),
    "probe": Variant("bench.apps.peers:probe"),
    "probe+log": Variant("bench.apps.peers:probe", "log"),
    "probe+watchdog": Variant("bench.apps.peers:probe", "watchdog"),
    "probe+trace": Variant("bench.apps.peers:probe", "trace"),
    "OpenTelemetry ASGI": Variant("bench.apps.peers:otel"),
    "FastAPI telemetry": Variant("bench.apps.fastapi_telemetry:app"),
}

#: The rows of the table: a path on its apps, each app's variants, the first one bare.
ROWS: dict[str, tuple[str, dict[str, Variant]]] = {
    "FastAPI `async def` hello": (
        "/",
        FASTAPI,
    ),
    "FastAPI `def` + sync Depends()": (
        "/sync-dep",
        FASTAPI,
    ),
    "raw ASGI hello": (
        "/quick",
        {
            "bare": Variant("asgi_lab.raw:raw_app"),
            "least probe": Variant("bench.apps.probe_variants:least_probe"),
            "probe": Variant("asgi_lab.raw:app"),
        },
    ),
}


def serve_and_load(
    variant: Variant, path: str, seconds: int, connections: int, traces: str
) -> wrk.Load:
    settings = Settings(
        log="line" if variant.adds == "log" else "off",
        block_ms=100.0 if variant.adds == "watchdog" else 0.0,
    )
    if variant.adds == "trace":
        settings = settings.replace(trace_dir=tempfile.mkdtemp(dir=traces))
    # Lines the log variant writes go to the server's stderr, which the harness reads and drops.
    with start(wrk.server_options(variant.app, settings, app_dir=variant.app_dir)) as server:
        wrk.requests_per_second(server.url + path, 1, connections)  # warm-up
        # One worker: uvicorn serves in the process it started as, whose CPU is the cost.
        return wrk.load(server.url + path, seconds, connections, pid=server.pid)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--row", action="append", choices=sorted(ROWS), help="only these rows")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout (a git worktree of an older commit): its probe joins each row as "
        "'probe@baseline', measured in the same rounds, for a before and after",
    )
    parser.add_argument(
        "--compiled",
        type=Path,
        help="where a compiled build of asgi_lab is installed (`ASGI_LAB_COMPILE=1 pip install "
        "--no-build-isolation --no-deps --target DIR .`): its probe joins each row as "
        "'probe compiled', in the same rounds",
    )
    args = parser.parse_args()
    rows = {name: (ROWS[name][0], dict(ROWS[name][1])) for name in (args.row or ROWS)}
    with tempfile.TemporaryDirectory() as scratch:
        others = {"probe@baseline": args.baseline, "probe compiled": args.compiled}
        for label, where in others.items():
            if where is None:
                continue
            mixed = _baseline_dir(where, Path(scratch) / label.replace(" ", "-"))
            for _, variants in rows.values():
                variants[label] = dataclasses.replace(variants["probe"], app_dir=mixed)
        return _run(args, rows, scratch)


def _baseline_dir(baseline: Path, scratch: Path) -> Path:
    """A directory whose `asgi_lab` is the baseline checkout's and whose `bench` is this one's,
    so the baseline's probe wraps the same apps (a checkout older than these apps works too)."""
    if not (baseline / "asgi_lab" / "probe").is_dir():
        raise SystemExit(f"--baseline {baseline}: no asgi_lab/probe there (expected a checkout)")
    mixed = scratch
    mixed.mkdir()
    (mixed / "asgi_lab").symlink_to((baseline / "asgi_lab").resolve())
    (mixed / "bench").symlink_to(ROOT / "bench")
    # A compiled build's modules share a library of mypyc's beside the package.
    for shared in baseline.glob("*__mypyc*"):
        (mixed / shared.name).symlink_to(shared.resolve())
    return mixed


def _run(
    args: argparse.Namespace, rows: dict[str, tuple[str, dict[str, Variant]]], traces: str
) -> int:
    """The rounds, then the table; trace variants write under `traces`."""
    print(f"$ {shlex.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"cores: {os.cpu_count()}; server on core 0, wrk on core 1; uvloop + httptools")
    runs: dict[str, dict[str, list[wrk.Load]]] = {
        row: {name: [] for name in variants} for row, (_, variants) in rows.items()
    }
    for round_ in range(1, args.rounds + 1):
        for row, (path, variants) in rows.items():
            for name, variant in variants.items():
                run = serve_and_load(variant, path, args.seconds, args.connections, traces)
                runs[row][name].append(run)
            print(
                f"  round {round_} {row}: "
                + ", ".join(f"{n} {r[-1].rate:,.0f}" for n, r in runs[row].items()),
                flush=True,
            )
    load = shlex.join(wrk.command("<url>", args.seconds, args.connections))
    print(f"\n{load}; median of {args.rounds} rounds; 'of bare' is the median of each round's")
    print("ratio to bare; 'cpu' the server's CPU per request and what it adds to bare's:")
    for row, by_name in runs.items():
        bare = by_name["bare"]
        print(f"\n{row} (bare {statistics.median(r.rate for r in bare):,.0f} req/s)")
        for name, loads in by_name.items():
            print("  " + _line(name, loads, bare, by_name["probe"]))
    return 0


def _line(name: str, loads: list[wrk.Load], bare: list[wrk.Load], probe: list[wrk.Load]) -> str:
    rate = statistics.median(r.rate for r in loads)
    paired = statistics.median(v.rate / b.rate for v, b in zip(loads, bare, strict=True))
    line = f"{name:<20} {rate:>9,.0f} req/s  {paired:.3f} of bare"
    cpu = [r.cpu_us_per_request or 0.0 for r in loads]
    added = [c - (b.cpu_us_per_request or 0.0) for c, b in zip(cpu, bare, strict=True)]
    line += f"  cpu {statistics.median(cpu):6.1f} µs/req (+{statistics.median(added):5.1f})"
    if name.startswith("probe+") or name in ("probe@baseline", "probe compiled"):
        over = statistics.median(v.rate / p.rate for v, p in zip(loads, probe, strict=True))
        line += f"  {over:.3f} of the probe"
    return line


if __name__ == "__main__":
    raise SystemExit(main())
