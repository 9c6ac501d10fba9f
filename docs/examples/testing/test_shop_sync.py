"""The same helpers under Starlette's TestClient, whose loop runs on a portal thread."""

from __future__ import annotations

import threading

import pytest
from shop import app

from asgi_lab.testing import Probed, assert_in_threadpool, assert_on_loop

# starlette.testclient warns when it finds httpx but not its successor httpx2 installed; by its
# words, since Starlette before 1.0 has no StarletteDeprecationWarning to name.
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


def test_with_starlettes_testclient() -> None:
    from starlette.testclient import TestClient

    probed = Probed(app)
    with TestClient(probed.app) as client:  # runs the lifespan on its portal thread
        items = probed.record(client.get("/fixed/items"))
        report = probed.record(client.get("/fixed/report"))
    assert_on_loop(items)
    assert_in_threadpool(report)
    # Relations, never names: the loop is the portal's thread, neither ours nor a worker.
    here = threading.get_native_id()
    assert items.loop.thread.native_id != here
    assert report.handler.thread.native_id not in (here, report.loop.thread.native_id)
