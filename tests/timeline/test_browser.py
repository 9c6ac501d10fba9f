"""The HTML timeline of a real run, opened in a real headless Chromium: it renders, with a lane
per thread the records name, and the screenshot is not blank."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from asgi_lab.probe.schema import RecordData
from asgi_lab.timeline import build
from asgi_lab.timeline.html import timeline_page

CHROMIUM = shutil.which("chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]


def browser() -> str:
    if CHROMIUM is None:
        message = "chromium is not installed (scripts/install adds it when run as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)  # CI must see the browser test run, not skip
        pytest.skip(message)
    return CHROMIUM


def colours(png: bytes) -> int:
    """Distinct pixel colours of an 8-bit RGB(A), non-interlaced PNG (what Chromium writes)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at, data, width = 8, b"", 0
    channels = 4
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, body = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            width, _, depth, colour_type = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour_type in (2, 6)
            channels = 3 if colour_type == 2 else 4
        elif kind == b"IDAT":
            data += body
        at += 12 + length
    raw = zlib.decompress(data)
    stride = width * channels + 1
    seen: set[bytes] = set()
    previous = bytearray(stride - 1)
    for y in range(len(raw) // stride):
        kind, line = raw[y * stride], bytearray(raw[y * stride + 1 : (y + 1) * stride])
        for i in range(len(line)):  # undo the PNG filters, so we count real colours
            a = line[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        seen.update(bytes(line[i : i + 3]) for i in range(0, len(line), channels * 7))
        previous = line
    return len(seen)


@pytest.mark.server
def test_the_html_of_a_real_run_renders_in_chromium(
    real_run: tuple[Path, list[RecordData]], tmp_path: Path
) -> None:
    chromium = browser()
    _, records = real_run
    page = tmp_path / "timeline.html"
    page.write_text(timeline_page(build(records), "real run"), encoding="utf-8")

    dom = subprocess.run(
        [chromium, *FLAGS, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "<svg" in dom and 'class="timeline"' in dom
    threads = {(r.pid, r.loop.thread.native_id) for r in records}
    threads |= {(r.pid, h.thread.native_id) for r in records for h in r.hops if h.thread}
    for pid, tid in threads:
        assert f'data-lane="{pid}:{tid}"' in dom, f"no lane for thread {tid} of worker {pid}"
    assert dom.count("data-lane=") == len(threads)
    assert "http://" not in dom.replace("http://www.w3.org/2000/svg", ""), "nothing fetched"

    shot = tmp_path / "timeline.png"
    subprocess.run(
        [chromium, *FLAGS, f"--screenshot={shot}", "--window-size=1400,900", page.as_uri()],
        capture_output=True,
        timeout=60,
        check=True,
    )
    png = shot.read_bytes()
    assert len(png) > 20_000, "a blank page compresses to a few kB"
    assert colours(png) > 8, "bars, lanes and text: more than a handful of colours"
    keep = os.environ.get("ASGI_LAB_KEEP_SCREENSHOT")
    if keep:  # to look at it: ASGI_LAB_KEEP_SCREENSHOT=/tmp/shot.png pytest ...
        shutil.copy(shot, keep)
