"""Timelines of a run: which worker, loop and thread ran each request and hop, and when.

`build(records)` makes the model; `terminal`, `svg`/`html` and `perfetto` draw it. Nothing
here knows the lab or the CLI: records in, text out.
"""

from asgi_lab.timeline import html, perfetto, svg, terminal
from asgi_lab.timeline.model import (
    HopBar,
    Lane,
    PoolCurve,
    RequestBar,
    Series,
    Timeline,
    Worker,
    build,
)

__all__ = [
    "HopBar",
    "Lane",
    "PoolCurve",
    "RequestBar",
    "Series",
    "Timeline",
    "Worker",
    "build",
    "html",
    "perfetto",
    "svg",
    "terminal",
]
