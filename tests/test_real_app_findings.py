"""What `asgi-lab trace` got wrong on open-source apps nobody here wrote, each reproduced on an
app of ours (see CHANGELOG): a handler on the loop that sends several queries to a pool of its
own (Datasette's shape) was said to run on the thread of its last query; an app installed from
PyPI (LNbits) had no line of its own for the watchdog to blame."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from asgi_lab.console import plain
from asgi_lab.probe import ProbeMiddleware, watchdog
from asgi_lab.probe.log import as_line
from asgi_lab.trace.summary import summary
from tests.apps import queries

pytestmark = pytest.mark.anyio

TESTS = str(Path(__file__).resolve().parent)


async def test_a_handler_on_the_loop_is_not_its_last_querys_thread() -> None:
    probe = ProbeMiddleware(queries.app, trace=None)
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
        answer = await client.get("/shop/items/7")
    record = probe.ring.recent(1)[0].data()
    # Three queries went to the pool's threads; the page was made and sent on the loop.
    assert len(record.hops) == queries.QUERIES
    assert all(h.pool.name == "executor:sqlite" for h in record.hops)
    assert answer.json()["loop"] == record.loop.thread.native_id
    assert record.handler.thread == record.loop.thread and not record.handler.in_threadpool
    assert "(the loop)" in as_line(record)
    text = plain(summary([record]), columns=100)
    served = text.split("who served", 1)[1].split("pools the hops", 1)[0]
    rows = [line.split("│") for line in served.splitlines() if line.startswith("│")]
    [row] = [r for r in rows if r[1].strip()]  # one worker (a cell may wrap below it)
    assert [c.strip() for c in row[-3:-1]] == ["1", "0"]  # on the loop 1, in a thread 0


@pytest.mark.parametrize("own", [(), ("tests",)])
async def test_an_installed_apps_own_line_is_blamed_when_named_its_own(
    own: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """LNbits from PyPI: every frame of it is in site-packages, so the watchdog blamed the
    library it called (or, at startup, no line at all). `asgi-lab trace lnbits.__main__:app`
    names lnbits its own; here the test's app dir stands for site-packages."""
    from tests.apps import installed

    # The tests (this file too: it runs the app in-process) stand for site-packages.
    monkeypatch.setattr(watchdog, "_LIBRARIES", (*watchdog._LIBRARIES, TESTS))
    probe = ProbeMiddleware(installed.app, trace=None, watchdog=50, own=own)
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
        assert (await client.get("/")).status_code == 200
    await probe.aclose()
    [block] = probe.ring.recent(1)[0].data().blocks
    blamed = Path(block.file).name
    if own:
        assert (blamed, block.function) == ("installed.py", "app")
        assert Path(block.stack[-1].file).name == "installed.py"
    else:
        assert blamed == "difflib.py", "all of it installed: the library is blamed"
