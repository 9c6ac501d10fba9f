"""Every server we name, started for real on loopback, with and without the probe.

One pair of servers (the app as it is, and inside the probe) per server and worker count, shared
by every test of the session that asks for it: starting FastAPI under four servers twice over is
what costs time here, not the requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from asgi_lab.serving import Server, ServerOptions, start
from asgi_lab.settings import Settings

#: (server, workers): every server with one worker and, where it has workers, two.
SERVED = [
    ("uvicorn", 1),
    ("uvicorn", 2),
    ("granian", 1),
    ("granian", 2),
    ("hypercorn", 1),
    ("hypercorn", 2),
    ("daphne", 1),
]
APP = "tests.apps.parity"


@dataclass
class Pair:
    """The same app under the same server: as it is, and inside the probe."""

    name: str
    workers: int
    plain: Server
    probed: Server
    marks: Path
    #: Where the probed server's workers write their records.
    trace: Path


@pytest.fixture(scope="session", params=SERVED, ids=[f"{s}-{w}w" for s, w in SERVED])
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    name, workers = request.param
    marks = tmp_path_factory.mktemp(f"{name}-{workers}")
    trace = marks / "trace"
    env = {"PARITY_DIR": str(marks)}
    probing = Settings(trace_dir=str(trace))
    with (
        start(ServerOptions(f"{APP}:app", server=name, workers=workers, env=env)) as plain,
        start(
            ServerOptions(f"{APP}:probed", server=name, workers=workers, env=env, settings=probing)
        ) as probed,
    ):
        yield Pair(name, workers, plain, probed, marks, trace)
