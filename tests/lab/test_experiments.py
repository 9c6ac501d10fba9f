"""Every experiment, at a tiny scale, against real servers: it runs, judges, and leaves nothing."""

from __future__ import annotations

import pytest

from asgi_lab.lab.experiments import EXPERIMENTS, ON_DEMAND, REGISTRY
from asgi_lab.lab.harness import Result, run_experiment

from .fakes import judged

pytestmark = pytest.mark.server


def test_every_experiment_is_registered_once_in_the_tour_or_on_demand() -> None:
    assert list(REGISTRY) == [e.name for e in (*EXPERIMENTS, *ON_DEMAND)]
    assert len(REGISTRY) == len(EXPERIMENTS) + len(ON_DEMAND)  # no name twice
    assert not set(EXPERIMENTS) & set(ON_DEMAND)


#: Experiments whose verdicts are all counts (the test checks that they are): nothing another
#: test's load could decide, so they run in the parallel lane.
UNTIMED = {"worker-kill"}


# serial: the verdicts judge timings to 5 %, which other tests' load on the box would decide.
@pytest.mark.parametrize(
    "name", [n if n in UNTIMED else pytest.param(n, marks=pytest.mark.serial) for n in REGISTRY]
)
def test_experiment_at_tiny_scale(name: str) -> None:
    """Runs, judges from its servers' records, passes (a timing verdict alone may fail once on
    a shared box: `judged`), and leaves no process behind."""
    exp = REGISTRY[name]
    steps: list[str] = []

    def check(result: Result) -> None:
        assert result.verdicts, "an experiment must judge at least one claim"
        if name in UNTIMED:
            timed = [v.claim for v in result.verdicts if v.timing]
            assert not timed, f"{name} judges timings, so belongs in the serial lane: {timed}"

    def run() -> Result:
        steps.clear()  # each run reports its own progress
        return run_experiment(exp, scale=exp.tiny_scale, progress=steps.append)

    result = judged(run, check)
    started = {pid for s in result.servers for pid in s["worker_pids"]}
    # Evidence came from the servers' own records, of every worker, read after they stopped.
    assert result.records
    assert {o.record.pid for o in result.records} <= started
    assert steps, "progress was reported"


@pytest.mark.serial
def test_sqlalchemy_on_fastapi_serves_the_same_source_built_on_fastapi() -> None:
    """`--layer fastapi` serves the sqlalchemy app built on FastAPI itself, and its claims hold
    there too (judged as above)."""
    exp = REGISTRY["sqlalchemy"]

    def check(result: Result) -> None:
        assert {s["app"] for s in result.servers} == {"asgi_lab.lab.apps.sqla_fastapi:app"}
        assert result.serves == "its own SQLAlchemy app on FastAPI itself"

    judged(lambda: run_experiment(exp, scale=exp.tiny_scale, layer="fastapi"), check)
    # The wrapper's run of the same experiment serves the wrapper's build.
    assert exp.serves == "its own SQLAlchemy app on the wrapper (Layer 2)"


@pytest.mark.serial
def test_quick_def_on_fastapi_counts_two_trips_per_def_request() -> None:
    """On FastAPI a `def` endpoint with an annotated result makes two threadpool trips (the call,
    then the validation) and an `async def` none; on the raw layer (above) one and none."""
    exp = REGISTRY["quick-def"]

    def check(result: Result) -> None:
        claims = {v.claim: v for v in result.verdicts}
        assert claims["def: requests that made 2 threadpool trip(s)"].passed
        assert claims["async def: requests that made 0 threadpool trip(s)"].passed

    judged(lambda: run_experiment(exp, scale=exp.tiny_scale, layer="fastapi"), check)
