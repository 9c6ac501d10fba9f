"""The timeline as one SVG element: lanes grouped by worker, bars linked to their requests.

Per worker: its loop lane (requests, one sub-row each while they overlap), its worker-thread
lanes (hops), then a band with requests in flight and one per pool its hops went through, the
calls running in it (`data-pool`, `data-peak`, `data-size` on each pool's band). Every bar
carries `data-req` (its request's id): the page's script highlights a request and all its hops
together and shows the lines from the request to its hops. Each route has a colour and a pattern
whose lightness differs from its neighbours', so the chart survives greyscale printing; every
bar has a `<title>` for hover. Thousands of requests: every request up to `MAX_ROWS` deep on its
loop lane is drawn; deeper ones (a lane that deep is a solid block anyway) are folded into one
"+N deeper" row drawn as the union of their intervals, and the in-flight curve counts them all.
"""

from __future__ import annotations

from html import escape

from asgi_lab.timeline.model import HopBar, PoolCurve, RequestBar, Series, Timeline, tick_step

__all__ = ["MAX_ROWS", "PATTERNS", "render"]

MAX_ROWS = 12
LABEL_W = 240
ROW_H = 18
LANE_GAP = 4
CURVE_H = 44
AXIS_H = 28
PAD = 12
RIGHT = 36  # room for the last tick's label

#: (fill, ink of its pattern, pattern): neighbours alternate dark and light fills.
PATTERNS = (
    ("#1f4e8c", "#ffffff", "none"),
    ("#f5c04a", "#5b4500", "stripes"),
    ("#7b2d8e", "#ffffff", "dots"),
    ("#9fd68a", "#1d4d12", "cross"),
    ("#b2182b", "#ffffff", "stripes"),
    ("#a6cfe8", "#0b3a5c", "dots"),
    ("#4d4d4d", "#ffffff", "cross"),
    ("#fdd0a2", "#6b3000", "none"),
)


def _attrs(attrs: dict[str, object]) -> str:
    return "".join(
        f' {k.rstrip("_").replace("_", "-")}="{escape(str(v))}"' for k, v in attrs.items()
    )


def _el(tag: str, content: str = "", **attrs: object) -> str:
    if content:
        return f"<{tag}{_attrs(attrs)}>{content}</{tag}>"
    return f"<{tag}{_attrs(attrs)}/>"


def _title(text: str) -> str:
    return f"<title>{escape(text)}</title>"


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.2f} ms"


def _defs() -> str:
    out = []
    for i, (fill, ink, kind) in enumerate(PATTERNS):
        marks = ""
        if kind == "stripes":
            marks = _el("path", d="M-1,1 l2,-2 M0,6 l6,-6 M5,7 l2,-2", stroke=ink, stroke_width=1.4)
        elif kind == "dots":
            marks = _el("circle", cx=3, cy=3, r=1.3, fill=ink)
        elif kind == "cross":
            marks = _el("path", d="M0,3 h6 M3,0 v6", stroke=ink, stroke_width=1)
        body = _el("rect", width=6, height=6, fill=fill) + marks
        out.append(
            _el("pattern", body, id=f"pat{i}", width=6, height=6, patternUnits="userSpaceOnUse")
        )
    return _el("defs", "".join(out))


class _X:
    """Wall-clock ns to x pixels in the plot area."""

    def __init__(self, timeline: Timeline, width: int) -> None:
        self.start = timeline.start_ns
        self.span = max(timeline.duration_ns, 1)
        self.left = LABEL_W
        self.width = width - LABEL_W - RIGHT

    def __call__(self, t_ns: int) -> float:
        return round(self.left + (t_ns - self.start) * self.width / self.span, 2)

    def bar(self, start_ns: int, end_ns: int) -> tuple[float, float]:
        """x and width of a bar, at least one pixel wide so the shortest request shows."""
        x = self(start_ns)
        return x, max(1.0, round(self(end_ns) - x, 2))


def _bar_label(text: str, x: float, w: float, y: float, colour: int) -> str:
    """The path on its bar, if it fits; outlined in the bar's fill so the pattern stays behind."""
    if w < 7 * len(text) + 6:
        return ""
    fill, ink, _ = PATTERNS[colour]
    return _el(
        "text",
        escape(text),
        x=round(x + 3, 2),
        y=y + ROW_H - 5,
        fill=ink,
        stroke=fill,
        class_="label",
    )


def _request(bar: RequestBar, y: float, x: _X, colour: int) -> str:
    r = bar.record
    bx, bw = x.bar(r.start_ns, r.end_ns)
    tip = (
        f"{r.method} {r.path} → {r.status} ({r.id})\n"
        f"took {_ms(r.end_ns - r.start_ns)} (response started at {_ms(r.response_ns - r.start_ns)})"
        f"\nwaited for a full pool {_ms(r.waits.pool_ns)}, for the loop {_ms(r.waits.loop_ns)},"
        f" behind a stall {_ms(r.waits.stall_ns)}; {len(r.hops)} hop(s)"
        f"\ntokens at arrival: {r.threadpool.borrowed} of {r.threadpool.total:g} borrowed,"
        f" {r.threadpool.waiting} waiting"
    )
    if r.error:
        tip += f"\nerror: {r.error}"
    return _bar("req", r.id, r.path, tip, bx, bw, y, colour)


def _hop(hop: HopBar, y: float, x: _X, colour: int) -> str:
    h = hop.hop
    bx, bw = x.bar(h.start_ns, h.end_ns)
    tip = (
        f"{h.call} for {hop.path} ({hop.request})\n"
        f"ran {_ms(h.end_ns - h.start_ns)}, queued {_ms(h.queued_ns)}"
        f" ({'the pool was full' if h.pool.full else 'the pool had room'})\n"
        f"pool {h.pool.name}"
        f" (size {'unknown' if h.pool.size is None else f'{h.pool.size:g}'}) when called:"
        f" {h.pool.busy} busy, {h.pool.queued} queued"
    )
    return _bar("hop", hop.request, hop.path, tip, bx, bw, y, colour)


def _bar(
    kind: str, request: str, path: str, tip: str, bx: float, bw: float, y: float, colour: int
) -> str:
    """A bar of a request ("req") or of one of its hops ("hop"), tied to the request by id."""
    rect = _el(
        "rect",
        _title(tip),
        x=bx,
        y=y + 1,
        width=bw,
        height=ROW_H - 2,
        fill=f"url(#pat{colour})",
        class_=f"bar {kind}",
        data_req=request,
    )
    return rect + _bar_label(path, bx, bw, y, colour)


def _union(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _curve(series: Series, x: _X, y0: float, peak: int, end_ns: int) -> str:
    """An SVG path of a step curve, baseline at `y0`, `peak` at `y0 - CURVE_H + 6`."""
    if not series.points or peak == 0:
        return ""
    scale = (CURVE_H - 8) / peak
    d = [f"M{x(series.points[0][0])},{y0}"]
    for t, v in series.points:
        d.append(f"H{x(t)}V{round(y0 - v * scale, 2)}")
    d.append(f"H{x(end_ns)}")
    return " ".join(d)


def _pool_band(pool: PoolCurve, x: _X, y: float, width: int, end_ns: int) -> str:
    """One pool's band: its calls running over time (in flight, for a process pool)."""
    peak = pool.busy.peak
    base = y + CURVE_H - 2
    what = "in flight" if pool.processes else "running"
    if pool.name.startswith("anyio"):
        what = "tokens held"  # until the task runs again (`model.pool_curves`)
    label = f"  pool {pool.name}: {what} (max {peak} of {pool.shown_size})"
    parts = [
        _el("rect", x=0, y=y, width=width, height=CURVE_H, class_="curve-bg"),
        _el("text", escape(label), x=14, y=y + 16, class_="lane-name"),
        _el("text", f"{max(peak, 1)}", x=LABEL_W - 6, y=y + 12, class_="tick end"),
        _el("text", "0", x=LABEL_W - 6, y=base, class_="tick end"),
    ]
    curve = _curve(pool.busy, x, base, max(peak, 1), end_ns)
    if curve:
        tip = _title(f"pool {pool.name}: calls {what}")
        parts.append(_el("path", tip, d=curve + f" V{base} Z", class_="tokens"))
    return _el(
        "g",
        "".join(parts),
        class_="pool",
        data_pool=pool.name,
        data_peak=peak,
        data_size=pool.shown_size,
    )


def _ticks(x: _X, top: float, bottom: float) -> str:
    span_ms = x.span / 1e6
    step = tick_step(span_ms, 10)
    out = []
    n = 0
    while n * step <= span_ms + 1e-9:
        px = x(x.start + int(n * step * 1e6))
        out.append(_el("line", x1=px, x2=px, y1=top, y2=bottom, class_="grid"))
        out.append(_el("text", f"{n * step:g}", x=px, y=top - 6, class_="tick"))
        n += 1
    out.append(_el("text", "ms", x=LABEL_W - 8, y=top - 6, class_="tick end"))
    return "".join(out)


def render(timeline: Timeline, *, width: int = 1400) -> str:
    """The `<svg>` of `timeline`, `width` pixels wide, as tall as its lanes need."""
    x = _X(timeline, width)
    routes = timeline.routes()
    colours: dict[str, int] = {}
    for route in routes.values():
        colours.setdefault(route, len(colours) % len(PATTERNS))
    body: list[str] = []
    y = float(AXIS_H)
    for worker in timeline.workers:
        group: list[str] = [
            _el("text", f"worker {worker.pid}", x=6, y=y + 13, class_="worker-name")
        ]
        y += ROW_H
        row_y: dict[str, float] = {}  # a request's row middle, where its links start
        for shade, lane in enumerate(worker.lanes):
            if lane.loop:
                bars = timeline.requests_on(lane)
                depth = max((b.row for b in bars), default=0) + 1
                rows = min(depth, MAX_ROWS) + (1 if depth > MAX_ROWS else 0)
            else:
                bars, depth, rows = [], 1, 1
            height = rows * ROW_H
            parts = [
                _el(
                    "rect",
                    x=0,
                    y=y,
                    width=width,
                    height=height,
                    class_="lane-bg loop" if lane.loop else f"lane-bg s{shade % 2}",
                ),
                _el(
                    "text",
                    escape(lane.name if lane.loop else f"  {lane.name}"),
                    x=14,
                    y=y + 13,
                    class_="lane-name loop" if lane.loop else "lane-name",
                ),
            ]
            if lane.loop:
                deeper = [b for b in bars if b.row >= MAX_ROWS]
                for bar in bars:
                    if bar.row < MAX_ROWS:
                        top = y + bar.row * ROW_H
                        row_y[bar.id] = top + ROW_H / 2
                        parts.append(_request(bar, top, x, colours[bar.route]))
                if deeper:
                    top = y + MAX_ROWS * ROW_H
                    for start, end in _union([(b.start_ns, b.end_ns) for b in deeper]):
                        bx, bw = x.bar(start, end)
                        tip = f"{len(deeper)} requests deeper than row {MAX_ROWS}: see in flight"
                        parts.append(
                            _el(
                                "rect",
                                _title(tip),
                                x=bx,
                                y=top + 3,
                                width=bw,
                                height=ROW_H - 6,
                                class_="deeper",
                            )
                        )
                    parts.append(
                        _el("text", f"+{len(deeper)} deeper", x=24, y=top + 13, class_="lane-name")
                    )
                # The watchdog's stalls, over the whole lane they froze, named in their title.
                for stall in (s for s in timeline.stalls if s.lane == lane.key):
                    sx, sw = x.bar(stall.block.start_ns, stall.block.end_ns)
                    parts.append(
                        _el(
                            "rect",
                            _title(stall.label),
                            x=sx,
                            y=y,
                            width=sw,
                            height=height,
                            class_="stall",
                            data_req=stall.record.id,
                        )
                    )
            else:
                for hop in timeline.hops_on(lane):
                    colour = colours.get(routes.get(hop.request, ""), 0)
                    parts.append(_hop(hop, y, x, colour))
                    if hop.request in row_y:
                        parts.append(
                            _el(
                                "line",
                                x1=x(hop.hop.called_ns),
                                y1=row_y[hop.request],
                                x2=x(hop.start_ns),
                                y2=y + ROW_H / 2,
                                class_="link",
                                data_req=hop.request,
                            )
                        )
            kind = "loop" if lane.loop else "thread"
            group.append(
                _el(
                    "g",
                    "".join(parts),
                    class_=f"lane {kind}",
                    data_lane=f"{lane.pid}:{lane.native_id}",
                    data_thread=lane.thread_name,
                )
            )
            y += height + (LANE_GAP if lane.loop else 1)
        # The curves: requests in flight (a line), then one band per pool, its calls running
        # (filled), each on its own scale.
        peak = max(worker.in_flight.peak, 1)
        base = y + CURVE_H - 2
        group.append(_el("rect", x=0, y=y, width=width, height=CURVE_H, class_="curve-bg"))
        flight_label = f"  in flight (max {worker.in_flight.peak}): dashed"
        group.append(_el("text", escape(flight_label), x=14, y=y + 16, class_="lane-name"))
        group.append(_el("text", f"{peak}", x=LABEL_W - 6, y=y + 12, class_="tick end"))
        group.append(_el("text", "0", x=LABEL_W - 6, y=base, class_="tick end"))
        flying = _curve(worker.in_flight, x, base, peak, timeline.end_ns)
        if flying:
            group.append(_el("path", _title("requests in flight"), d=flying, class_="in-flight"))
        y += CURVE_H
        for pool in worker.pools:
            group.append(_pool_band(pool, x, y, width, timeline.end_ns))
            y += CURVE_H
        y += PAD
        body.append(_el("g", "".join(group), class_="worker", data_pid=worker.pid))
    height = int(y + PAD)
    grid = _ticks(x, AXIS_H - 4, y)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{width}"'
        f' height="{height}" viewBox="0 0 {width} {height}" role="img">'
        + _defs()
        + grid
        + "".join(body)
        + "</svg>"
    )
