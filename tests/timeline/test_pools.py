"""Every view's count of a pool matches the records: a real server sends sleeps through anyio,
`asyncio.to_thread` and an own pool of 4, and CPU work to a process pool; the terminal, SVG,
HTML and Perfetto timelines and `asgi-lab trace`'s summary must each show, per pool, the size
the hops recorded and the most calls running at once, counted here from the hops' own times."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from xml.etree import ElementTree

import pytest

from asgi_lab.console import plain
from asgi_lab.lab.apps.offload import PROCESSES, THREADS
from asgi_lab.lab.clients import AsyncClient
from asgi_lab.probe.pools import default_size
from asgi_lab.records import read_records
from asgi_lab.records.schema import HopData, RecordData
from asgi_lab.settings import Settings
from asgi_lab.timeline import build, html, perfetto, svg, terminal
from asgi_lab.trace.summary import summary
from tests.conftest import serve

pytestmark = pytest.mark.server

SLEEP = 0.2
#: Calls sent at once per road: more than every pool but anyio's has threads.
SENT = {
    "/offload/sleep/anyio": 3,
    "/offload/sleep/to-thread": default_size() + 2,
    "/offload/sleep/executor": THREADS + 2,
    "/offload/cpu/processes": PROCESSES + 1,
}
#: The most each pool can run at once: what the records must show.
EXPECTED = {
    "anyio": 3,
    "default-executor": default_size(),
    "executor:offload": THREADS,
    "processes:1": PROCESSES + 1,  # in flight as the parent sees them: queued ones count too
}


async def drive(url: str) -> None:
    most = max(SENT.values())
    async with AsyncClient(url) as client:
        await asyncio.gather(*(client.get("/offload/processes") for _ in range(most)))
        for path, n in SENT.items():
            query = "ms=50" if "cpu" in path else f"seconds={SLEEP}"
            replies = await asyncio.gather(*(client.get(f"{path}?{query}") for _ in range(n)))
            assert [r.status for r in replies] == [200] * n


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RecordData]]:
    trace = tmp_path_factory.mktemp("pools")
    app = "asgi_lab.lab.apps.offload:app"
    with serve(app, settings=Settings(trace_dir=str(trace))) as server:
        asyncio.run(drive(server.url))
    # Read once the server stopped: its writer flushed on shutdown.
    yield read_records(trace)


def most_at_once(hops: list[HopData]) -> int:
    """The most hops open at one instant, by brute force: at each hop's beginning, count the
    hops begun and not yet ended (an end at that instant is not overlapping). An anyio hop holds
    its token until its task ran again on the loop."""
    spans = [
        (
            h.called_ns if h.pool.processes else h.start_ns,
            max(h.resumed_ns, h.end_ns) if h.pool.name.startswith("anyio") else h.end_ns,
        )
        for h in hops
    ]
    return max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)


def from_records(records: list[RecordData]) -> dict[str, tuple[int, str]]:
    """Per pool: the most calls at once and the size, as the views should print them."""
    by_pool: dict[str, list[HopData]] = {}
    for r in records:
        for h in r.hops:
            if h.thread is not None or h.pool.processes:
                by_pool.setdefault(h.pool.name, []).append(h)
    out = {}
    for name, hops in by_pool.items():
        sizes = {h.pool.size for h in hops}
        size = "?" if sizes == {None} else f"{max(s for s in sizes if s is not None):g}"
        out[name] = (most_at_once(hops), size)
    return out


def test_the_records_hold_what_the_pools_allow(records: list[RecordData]) -> None:
    seen = from_records(records)
    assert {name: most for name, (most, _) in seen.items()} == EXPECTED
    assert seen["anyio"][1] == "40" and seen["default-executor"][1] == f"{default_size()}"
    # A ThreadPoolExecutor does not say its size, nor does a process pool.
    assert seen["executor:offload"][1] == seen["processes:1"][1] == "?"


def test_the_terminal_timeline_shows_each_pools_count(records: list[RecordData]) -> None:
    text = terminal.render(build(records), width=100).plain
    shown = {
        m["name"]: (int(m["most"]), m["size"])
        for m in re.finditer(r"^  (?P<name>\S+) (?P<most>\d+)/(?P<size>\S+) ", text, re.M)
    }
    assert shown == from_records(records)


def test_the_svg_and_html_timelines_show_each_pools_count(records: list[RecordData]) -> None:
    drawing = svg.render(build(records))
    bands = [el for el in ElementTree.fromstring(drawing).iter() if el.get("class") == "pool"]
    shown = {b.get("data-pool"): (int(b.get("data-peak", "")), b.get("data-size")) for b in bands}
    assert shown == from_records(records)
    labels = [t.text or "" for b in bands for t in b.iter() if t.text and "pool " in t.text]
    for name, (most, size) in shown.items():
        assert any(f"pool {name}: " in t and f"(max {most} of {size})" for t in labels), name
    page = html.timeline_page(build(records), "pools")
    assert drawing in page


def test_perfetto_has_a_counter_per_pool_peaking_at_its_count(records: list[RecordData]) -> None:
    events = perfetto.events(build(records))
    peaks: dict[str, int] = {}
    for e in events:
        found = re.fullmatch(r"pool (\S+) \(size (\S+)\)", e["name"]) if e["ph"] == "C" else None
        if found:
            (value,) = e["args"].values()
            key = f"{found[1]} {found[2]}"
            peaks[key] = max(peaks.get(key, 0), value)
    expected = {f"{name} {size}": most for name, (most, size) in from_records(records).items()}
    assert peaks == expected


def test_the_trace_summary_lists_each_pool_with_its_count(records: list[RecordData]) -> None:
    text = plain(summary(records), columns=120)
    rows = {}
    for line in text.split("pools the hops went through", 1)[1].splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 7 and cells[0].isdigit():
            rows[cells[1]] = (int(cells[4].split()[0]), cells[2], int(cells[3]))
    hops = {name: sum(1 for r in records for h in r.hops if h.pool.name == name) for name in rows}
    assert {n: (most, size) for n, (most, size, _) in rows.items()} == from_records(records)
    assert {n: count for n, (_, _, count) in rows.items()} == hops
    # Who served: the loop for all of these, as each endpoint is an `async def`.
    assert "yes (" not in text.split("pools the hops went through", 1)[0]
