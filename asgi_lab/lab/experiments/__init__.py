"""Every experiment, one module per idea; importing this package registers them in tour order."""

from asgi_lab.lab.experiment import REGISTRY
from asgi_lab.lab.experiments import clients, db, fan_out, gil, loop, nodelay, threadpool, workers

#: The order of the tour and of `--list`: from the client in, then out to processes and data.
ORDER = (
    "clients",
    "await-sleep",
    "blocking-sleep",
    "threadpool",
    "threadpool-limit",
    "workers",
    "gil",
    "fan-out",
    "gather-vs-as-completed",
    "db-threads",
    "nodelay",
)

if set(ORDER) != set(REGISTRY):
    raise RuntimeError(f"ORDER and the registered experiments differ: {set(ORDER) ^ set(REGISTRY)}")
_ordered = {name: REGISTRY.pop(name) for name in ORDER}
REGISTRY.update(_ordered)

__all__ = [
    "ORDER",
    "REGISTRY",
    "clients",
    "db",
    "fan_out",
    "gil",
    "loop",
    "nodelay",
    "threadpool",
    "workers",
]
