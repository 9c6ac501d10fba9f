"""`asgi-lab trace` and `asgi-lab serve` on every server, as a user runs them: started with
`--server`, answering, stopped by SIGTERM with every worker's records read back."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from asgi_lab.records import HEADER, HeaderData, read_records
from tests.cli import running, stop

pytestmark = pytest.mark.server


@pytest.mark.parametrize("server", ["uvicorn", "granian", "hypercorn", "daphne"])
def test_trace_serves_a_users_app_on_each_server(server: str, tmp_path: Path) -> None:
    args = ["trace", "tests.apps.parity:app", "--server", server, "--port", "0"]
    args += ["--trace-dir", str(tmp_path)]
    with running(*args) as (process, url):
        with httpx.Client(base_url=url, timeout=30) as client:
            answers = [client.get(path) for path in ("/async/slow", "/sync", "/stream")]
        out, err = stop(process)
    assert process.returncode == 0, err
    assert [a.status_code for a in answers] == [200, 200, 200]
    ids = {HeaderData.parse(a.headers[HEADER]).request for a in answers}
    records = read_records(tmp_path)
    assert {r.id for r in records} == ids
    assert "3 requests, 1 worker(s)" in out


@pytest.mark.parametrize("server", ["granian", "hypercorn", "daphne"])
def test_serve_runs_a_layer_on_each_server(server: str) -> None:
    with running("serve", "--server", server, "--port", "0") as (process, url):
        response = httpx.get(f"{url}/quick", timeout=30)
        out, err = stop(process)
    assert process.returncode == 0, err
    assert response.status_code == 200 and HEADER in response.headers
