"""`asgi-lab serve`: a real server on the port the kernel chose, stopped cleanly."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.cli import running, stop

pytestmark = pytest.mark.server


@pytest.mark.parametrize("layer", ["raw", "routes", "api"])
def test_serve_prints_where_it_listens_and_serves_the_layer(layer: str) -> None:
    args = ["serve", "--layer", layer, "--port", "0", "--workers", "2", "--threads", "6"]
    with running(*args) as (process, url):
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        # The socket listens before the workers are up: the request waits for one, bounded.
        body = httpx.get(url + "/sync/sleep?seconds=0", timeout=30).json()
        assert body["layer"] == layer
        assert body["served_by"]["threadpool"]["total"] == 6
        assert body["served_by"]["handler"]["in_threadpool"] is True
        stop(process)
    assert process.returncode == 0


def test_serve_refuses_a_port_it_cannot_have() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "asgi_lab", "serve", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "expected a port from 0 to 65535, got '70000'" in done.stderr


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--threads", "20000", "expected a whole number from 1 to 10000, got '20000'"),
        ("--workers", "0", "expected a whole number from 1 to 64, got '0'"),
        ("--workers", "many", "expected a whole number from 1 to 64, got 'many'"),
    ],
)
def test_serve_bounds_its_options(option: str, value: str, expected: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "asgi_lab", "serve", option, value],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert expected in done.stderr
