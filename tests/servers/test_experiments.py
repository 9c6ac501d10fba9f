"""The experiments whose claims are a server's own property, on granian and hypercorn: each
judges the server's measured behaviour (no restart after SIGKILL; no delayed-ACK wait, or no
phase without TCP_NODELAY; no process pool in a daemonic worker) instead of failing on
uvicorn's, and leaves nothing behind."""

from __future__ import annotations

import pytest

from asgi_lab.lab.experiments import REGISTRY
from asgi_lab.lab.harness import Result, run_experiment
from tests.lab.fakes import judged

pytestmark = pytest.mark.server


@pytest.mark.parametrize("server", ["granian", "hypercorn"])
@pytest.mark.parametrize(
    # serial: its median per request is judged to 5 % of about a millisecond, which the parallel
    # lane's load decided (hypercorn at 1.8 times its bound, both attempts, once in CI).
    "name",
    ["worker-kill", pytest.param("nodelay", marks=pytest.mark.serial), "offload"],
)
def test_a_server_property_is_judged_as_that_server_behaves(name: str, server: str) -> None:
    """Judged as every experiment is (`judged`: a timing verdict alone may fail once on a
    shared box; a failed count never)."""
    exp = REGISTRY[name]

    def check(result: Result) -> None:
        assert result.verdicts

    result = judged(lambda: run_experiment(exp, scale=exp.tiny_scale, server=server), check)
    started = {pid for s in result.servers for pid in s["worker_pids"]}
    assert {o.record.pid for o in result.records} <= started
    said = " ".join([v.claim for v in result.verdicts] + [k for k, _ in result.facts])
    if name == "offload":
        # hypercorn's workers are daemonic: no process pool can start there, and it says so.
        facts = dict(result.facts)
        if server == "hypercorn":
            assert "daemonic processes are not allowed" in facts["CPU on processes under hypercorn"]
        else:
            assert "CPU on processes: hops run in another process" in said
    elif name == "worker-kill":
        assert f"{server} stopped serving after the kill" in said
    elif server == "granian":
        assert "granian binds its own socket" in said
    else:
        assert "hypercorn does not wait" in said
