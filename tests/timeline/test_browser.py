"""The HTML timeline of a real run, opened in a real headless Chromium: it renders, with a lane
per thread the records name, and the screenshot is not blank."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from asgi_lab.records.schema import RecordData
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


def colours(png: Path) -> int:
    """Distinct pixel colours of a screenshot."""
    with Image.open(png) as image:
        found = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert found is not None, "more colours than we count"
    return len(found)


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
    assert shot.stat().st_size > 20_000, "a blank page compresses to a few kB"
    assert colours(shot) > 8, "bars, lanes and text: more than a handful of colours"
    keep = os.environ.get("ASGI_LAB_KEEP_SCREENSHOT")
    if keep:  # to look at it: ASGI_LAB_KEEP_SCREENSHOT=/tmp/shot.png pytest ...
        shutil.copy(shot, keep)
