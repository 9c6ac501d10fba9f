"""Self-contained HTML pages around timelines: inline style and script, nothing fetched.

The script is a dozen lines of plain JavaScript: hovering a request or a hop marks every bar of
that request (and shows the lines from the request to its hops) and dims the rest. Without
script the page still shows everything, and every bar keeps its `<title>` tooltip.
"""

from __future__ import annotations

from html import escape

from asgi_lab.timeline import svg
from asgi_lab.timeline.model import Timeline

__all__ = ["legend", "page", "picture", "section", "timeline_page"]

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 16px 24px; color: #111; background: #fff; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; }
td, th { border-bottom: 1px solid #ccc; padding: 3px 10px; text-align: left; }
.pass { font-weight: bold; } .fail { font-weight: bold; text-decoration: underline; }
.legend span { display: inline-block; margin-right: 14px; }
.legend svg { vertical-align: middle; margin-right: 4px; }
svg.timeline { display: block; width: 100%; height: auto; font: 12px system-ui, sans-serif; }
.lane-bg.loop { fill: #e9ecf2; } .lane-bg.s0 { fill: #f7f7f7; } .lane-bg.s1 { fill: #efefef; }
.curve-bg { fill: #fbfbfb; }
.lane-name { fill: #222; } .lane-name.loop, .worker-name { font-weight: bold; fill: #000; }
.grid { stroke: #bbb; stroke-width: 0.5; stroke-dasharray: 2 3; }
.tick { fill: #444; font-size: 11px; } .tick.end { text-anchor: end; }
.bar { stroke: #000; stroke-width: 0.6; }
.label { font-size: 11px; pointer-events: none; paint-order: stroke; stroke-width: 3px; }
.deeper { fill: #777; }
.stall { fill: #c00; fill-opacity: 0.12; stroke: #900; stroke-width: 1; stroke-dasharray: 4 2; }
.tokens { fill: #555; fill-opacity: 0.35; stroke: #333; stroke-width: 1; }
.in-flight { fill: none; stroke: #000; stroke-width: 1.5; stroke-dasharray: 5 2; }
.link { stroke: #000; stroke-width: 1.2; opacity: 0; pointer-events: none; }
svg.focus .bar { opacity: 0.25; }
svg.focus .bar.hl { opacity: 1; stroke-width: 2.5; }
svg.focus .link.hl { opacity: 0.9; }
"""

SCRIPT = """
for (const svg of document.querySelectorAll("svg.timeline")) {
  let marked = [];
  svg.addEventListener("mouseover", (event) => {
    const req = event.target.getAttribute && event.target.getAttribute("data-req");
    for (const el of marked) el.classList.remove("hl");
    marked = req ? [...svg.querySelectorAll(`[data-req="${CSS.escape(req)}"]`)] : [];
    for (const el of marked) el.classList.add("hl");
    svg.classList.toggle("focus", marked.length > 0);
  });
}
"""


def page(title: str, body: str) -> str:
    """A whole HTML document: `body` is trusted markup, `title` is escaped."""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n<script>{SCRIPT}</script>\n</body></html>\n"
    )


def legend(timeline: Timeline) -> str:
    """Each route's colour and pattern (the path where no route is named), in the order the
    timeline gave them."""
    seen: dict[str, int] = {}
    for route in timeline.routes().values():
        seen.setdefault(route, len(seen) % len(svg.PATTERNS))
    swatches = []
    for path, colour in seen.items():
        # The pattern is defined in the timeline's own <svg>; ids are page-wide.
        swatch = (
            f'<svg width="28" height="14"><rect width="28" height="14" fill="url(#pat{colour})"'
            ' stroke="#000" stroke-width="1"/></svg>'
        )
        swatches.append(f"<span>{swatch}{escape(path)}</span>")
    return f'<p class="legend">{"".join(swatches)}</p>'


def section(timeline: Timeline, heading: str | None = None) -> str:
    """A timeline with its heading, its numbers, its legend."""
    parts = [f"<h2>{escape(heading)}</h2>"] if heading else []
    if not timeline.workers:
        return "".join(parts) + "<p>No records.</p>"
    lanes = len(timeline.lanes)
    parts.append(
        f"<p>{len(timeline.requests)} requests, {len(timeline.hops)} hops on"
        f" {lanes} threads of {len(timeline.workers)} worker(s), over"
        f" {timeline.duration_ns / 1e6:.1f} ms. Requests sit on their loop's lane (a sub-row"
        f" each while they overlap, the deepest past {svg.MAX_ROWS} folded); hops sit on the"
        " thread that ran them. Hover a bar to see its request and every hop it made.</p>"
    )
    if timeline.unstarted:
        parts.append(f"<p>{timeline.unstarted} hop(s) never started and are not drawn.</p>")
    parts.append(legend(timeline))
    parts.append(svg.render(timeline))
    return "\n".join(parts)


def timeline_page(timeline: Timeline, title: str) -> str:
    """One timeline on a page of its own."""
    return page(title, f"<h1>{escape(title)}</h1>\n{section(timeline)}")


def picture(timeline: Timeline) -> str:
    """The timeline as an SVG file of its own, the page's style inside it: what the docs embed
    as an image (no script, so no hover highlighting; every bar keeps its `<title>`)."""
    drawing = svg.render(timeline)
    head, _, rest = drawing.partition(">")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{head}><style>{STYLE}</style>{rest}\n'
