"""Run experiments for the CLI: one, or the tour; print reports, write JSON, set the exit status.

Ctrl-C (and SIGTERM, turned into the same exception) unwinds through the experiment's `with`
blocks, which stop every server they started; the servers run in their own sessions, so a
terminal's Ctrl-C never reaches them directly and only that unwinding stops them.

With a live page (`--live`), it is open for the whole run, and every server an experiment starts
feeds it; its URL goes to stderr before the first server starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from asgi_lab import __version__, interpreter
from asgi_lab.lab.experiments import EXPERIMENTS, REGISTRY
from asgi_lab.lab.harness import Result, run_experiment
from asgi_lab.lab.pages import experiment_page, write_tour
from asgi_lab.lab.report import StderrProgress, render, summary
from asgi_lab.live import Live
from asgi_lab.serving import terminate_as_interrupt
from asgi_lab.timeline import build, html
from asgi_lab.timeline.report import write_perfetto

__all__ = ["listing", "run_one", "run_tour"]

#: Exit status of a run stopped by Ctrl-C, as a shell reports it.
INTERRUPTED = 130


def listing() -> str:
    """Every experiment: name, default and tour scale ("-": not in the tour), what it shows."""
    width = max(len(name) for name in REGISTRY)
    lines = [f"{'NAME'.ljust(width)}  SCALE  TOUR   WHAT IT SHOWS"]
    for exp in REGISTRY.values():
        tour = f"{exp.tour_scale:<5g}" if exp in EXPERIMENTS else "-    "
        lines.append(f"{exp.name.ljust(width)}  {exp.scale:<5g}  {tour}  {exp.title}")
    return "\n".join(lines)


def host() -> dict[str, Any]:
    """The machine the numbers come from."""
    return {
        "cores": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_json(path: str, results: list[Result]) -> None:
    data = {
        "asgi_lab": __version__,
        "host": host(),
        "results": [r.as_dict() for r in results],
    }
    Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def announce(live: Live | None) -> str | None:
    """Print the live page's URL on stderr (stdout is the report's); its channel, or None."""
    if live is None:
        return None
    print(f"asgi-lab: live page: {live.url}", file=sys.stderr, flush=True)
    return live.channel


def run_one(
    name: str,
    *,
    layer: str = "raw",
    server: str = "uvicorn",
    scale: float | None = None,
    json_path: str | None = None,
    html_path: str | None = None,
    perfetto_path: str | None = None,
    svg_path: str | None = None,
    python: str | None = None,
    quiet: bool = False,
    live: AbstractContextManager[Live | None] | None = None,
) -> int:
    """Run experiment `name`; 0 when every verdict passes, 1 when one fails, 2 for a bad name.

    `html_path` gets its page (verdicts and a timeline per phase), `perfetto_path` every
    phase's records as one Chrome trace (phases ran one after another, on different pids),
    `svg_path` the timeline of every phase as one SVG file (what the docs embed); `live`, when
    it opens a live page, is fed by every server the experiment starts. `python` runs the
    servers on that interpreter; one that cannot raises `interpreter.InterpreterError`.
    """
    exp = REGISTRY.get(name)
    if exp is None:
        known = ", ".join(REGISTRY)
        print(f"asgi-lab: no experiment {name!r}; expected one of: {known}", file=sys.stderr)
        return 2
    progress = StderrProgress(enabled=not quiet)
    other = None if python is None else interpreter.check(python, server)
    try:
        with terminate_as_interrupt(signal.SIGINT) as interrupted:
            with live or contextlib.nullcontext() as page:
                result = run_experiment(
                    exp,
                    scale=scale,
                    layer=layer,
                    server=server,
                    python=other,
                    progress=progress,
                    live=announce(page),
                )
            if interrupted():  # raised, then caught on the way (see terminate_as_interrupt)
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        print("asgi-lab: interrupted; servers stopped", file=sys.stderr)
        return INTERRUPTED
    print(render(result))
    if json_path:
        write_json(json_path, [result])
    if html_path:
        Path(html_path).write_text(experiment_page(result), encoding="utf-8")
        progress(f"wrote {html_path}")
    if perfetto_path:
        write_perfetto(perfetto_path, [o.record for o in result.records])
        progress(f"wrote {perfetto_path} (open it in ui.perfetto.dev)")
    if svg_path:
        timeline = build([o.record for o in result.records])
        Path(svg_path).write_text(html.picture(timeline), encoding="utf-8")
        progress(f"wrote {svg_path}")
    return 0 if result.passed else 1


def run_tour(
    *,
    layer: str = "raw",
    server: str = "uvicorn",
    json_path: str | None = None,
    report_dir: str | None = None,
    python: str | None = None,
    quiet: bool = False,
    live: AbstractContextManager[Live | None] | None = None,
) -> int:
    """Every experiment of the tour (`EXPERIMENTS`, not `ON_DEMAND`) at its tour scale, each
    report, then the summary.

    `report_dir` gets `index.html` (the summary) and one `<name>.html` per experiment; `live`,
    when it opens a live page, is fed by every server of every experiment.
    """
    progress = StderrProgress(enabled=not quiet)
    other = None if python is None else interpreter.check(python, server)
    results: list[Result] = []
    started = time.perf_counter()
    try:
        with (
            terminate_as_interrupt(signal.SIGINT) as interrupted,
            live or contextlib.nullcontext() as page,
        ):
            channel = announce(page)
            for i, exp in enumerate(EXPERIMENTS, 1):
                progress(f"--- [{i}/{len(EXPERIMENTS)}] {exp.name} (scale {exp.tour_scale:g})")
                result = run_experiment(
                    exp,
                    scale=exp.tour_scale,
                    layer=layer,
                    server=server,
                    python=other,
                    progress=progress,
                    live=channel,
                )
                if interrupted():  # raised, then caught on the way (see terminate_as_interrupt)
                    raise KeyboardInterrupt
                results.append(result)
                print(render(result), end="\n\n", flush=True)
    except KeyboardInterrupt:
        print("asgi-lab: interrupted; servers stopped", file=sys.stderr)
        return INTERRUPTED
    cores = host()["cores"]
    on = "" if other is None else f", Python {other.version} ({other.executable})"
    print(f"== tour: {len(results)} experiments, layer {layer}, server {server}{on}, {cores} cores")
    took = time.perf_counter() - started
    print(summary(results, took))
    if json_path:
        write_json(json_path, results)
    if report_dir:
        index = write_tour(Path(report_dir), results, took)
        progress(f"wrote {index}")
    return 0 if all(r.passed for r in results) else 1
