"""Results as HTML pages: one per experiment (verdicts, facts, a timeline per phase) and the
tour's index (the summary table, each experiment linking to its page)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from pathlib import Path

from asgi_lab.lab.harness import Result
from asgi_lab.lab.report import accepts, by_phase, quantity, ratio
from asgi_lab.timeline import build
from asgi_lab.timeline.html import page, section

__all__ = ["experiment_page", "index_page", "write_tour"]


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _verdict(passed: bool) -> str:
    return '<span class="pass">PASS</span>' if passed else '<span class="fail">FAIL</span>'


def experiment_page(result: Result) -> str:
    """One experiment: what it claims, what it measured, and every phase's timeline."""
    parts = [
        f"<h1>{escape(result.name)}: {escape(result.title)}</h1>",
        f"<p>layer {escape(result.layer)}, scale {result.scale:g}, took {result.seconds:.1f} s"
        f" &mdash; {_verdict(result.passed)}</p>",
    ]
    if result.verdicts:
        rows = [
            [
                escape(v.claim),
                escape(quantity(v.measured, v.unit)),
                escape(quantity(v.bound, v.unit)),
                escape(ratio(v)),
                escape(accepts(v)),
                _verdict(v.passed),
            ]
            for v in result.verdicts
        ]
        headers = ["claim", "measured", "bound", "ratio", "accepts", "verdict"]
        parts.append(_table(headers, rows))
    if result.facts:
        parts.append(_table(["fact", "value"], [[escape(k), escape(v)] for k, v in result.facts]))
    if result.error:
        parts.append(f"<p><strong>ERROR:</strong> {escape(result.error)}</p>")
    for phase, records in by_phase(result.records).items():
        parts.append(section(build(records), f"phase {phase}"))
    return page(f"asgi-lab: {result.name}", "\n".join(parts))


def index_page(results: Sequence[Result], seconds: float) -> str:
    """The tour's summary, each experiment's name linking to `<name>.html`."""
    rows = []
    for r in results:
        timing = [v for v in r.verdicts if v.timing]
        closest = max(timing, key=lambda v: v.ratio / v.high, default=None)
        worst = "-"
        if closest is not None and not math.isinf(closest.ratio):
            worst = f"{closest.ratio:.3f} ({accepts(closest)})"
        rows.append(
            [
                f'<a href="{escape(r.name)}.html">{escape(r.name)}</a>',
                f"{sum(v.passed for v in r.verdicts)}/{len(r.verdicts)}",
                escape(worst),
                f"{r.seconds:.1f} s",
                "ERROR" if r.error else _verdict(r.passed),
                escape(r.title),
            ]
        )
    ok = sum(r.passed for r in results)
    headers = ["experiment", "verdicts", "worst ratio", "took", "result", "what it shows"]
    body = (
        "<h1>asgi-lab tour</h1>"
        + _table(headers, rows)
        + f"<p>{ok}/{len(results)} experiments passed in {seconds:.1f} s</p>"
    )
    return page("asgi-lab tour", body)


def write_tour(directory: Path, results: Sequence[Result], seconds: float) -> Path:
    """`directory/index.html` and one `directory/<name>.html` per result; the index's path."""
    directory.mkdir(parents=True, exist_ok=True)
    for result in results:
        (directory / f"{result.name}.html").write_text(experiment_page(result), encoding="utf-8")
    index = directory / "index.html"
    index.write_text(index_page(results, seconds), encoding="utf-8")
    return index
