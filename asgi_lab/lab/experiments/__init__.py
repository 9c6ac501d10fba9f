"""Every experiment, one module per idea, listed once below in the order the tour runs them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from asgi_lab.lab.experiments import (
    blocker,
    clients,
    db,
    fan_out,
    gil,
    loop,
    nodelay,
    offload,
    quick,
    response_model,
    sizing,
    sqla,
    threadpool,
    worker_kill,
    workers,
)

if TYPE_CHECKING:
    # For the annotations only: the package exports its registry, not the class.
    from asgi_lab.lab.harness import Experiment

#: The order of the tour and of `--list`: from the client in, then out to processes and data.
EXPERIMENTS: tuple[Experiment, ...] = (
    clients.run,
    loop.await_sleep,
    loop.blocking_sleep,
    blocker.find_the_blocker,
    threadpool.threadpool,
    threadpool.threadpool_limit,
    quick.run,
    offload.run,
    response_model.run,
    workers.run,
    worker_kill.run,
    gil.run,
    fan_out.fan_out,
    fan_out.gather_vs_as_completed,
    db.run,
    sqla.run,
    sizing.tokens,
    sizing.pool,
    nodelay.run,
)

#: Run only by name, never in the tour: the classic figures at full size take half a minute, and
#: sizing-workers drives four servers with CPU-bound load.
ON_DEMAND: tuple[Experiment, ...] = (clients.full_size, sizing.workers)

#: Every experiment by name, the tour's first.
REGISTRY: dict[str, Experiment] = {e.name: e for e in (*EXPERIMENTS, *ON_DEMAND)}

__all__ = ["EXPERIMENTS", "ON_DEMAND", "REGISTRY"]
