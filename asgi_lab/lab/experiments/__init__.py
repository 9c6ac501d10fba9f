"""Every experiment, one module per idea; importing this package registers them in tour order."""

from asgi_lab.lab.experiment import REGISTRY
from asgi_lab.lab.experiments import clients, db, fan_out, gil, loop, nodelay, threadpool, workers

__all__ = [
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
