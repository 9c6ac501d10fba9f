"""Assert where your app's requests ran, in your own tests.

`ProbeClient(app)` gives an `httpx.AsyncClient` on your app with the probe and its loop
watchdog around it; `client.record(response)` is that response's `RecordData`. The assertions
(`assert_on_loop`, `assert_in_threadpool`, `assert_same_thread`, `assert_no_loop_block`,
`assert_max_tokens`) fail with a sentence that names the threads, the functions and the line.
`Probed(app)` does the same for any other client, Starlette's `TestClient` included. The pytest
plugin (`plugin.py`) adds the `asgi_lab_no_block(max_ms=...)` marker.

The names below load on first use: pytest loads the plugin, and so this package, in every
session of everyone who installs asgi-lab, and most of them never probe an app.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asgi_lab.testing.asserts import (
        assert_in_threadpool,
        assert_max_tokens,
        assert_no_loop_block,
        assert_on_loop,
        assert_same_thread,
        loop_blocks,
        peak_tokens,
    )
    from asgi_lab.testing.client import Endpoint, ProbeClient, Probed, ProbedClient, endpoint_of
    from asgi_lab.testing.lifespan import Lifespan, LifespanError

#: Where each public name lives.
_HOMES = {
    "Endpoint": "client",
    "Lifespan": "lifespan",
    "LifespanError": "lifespan",
    "ProbeClient": "client",
    "Probed": "client",
    "ProbedClient": "client",
    "assert_in_threadpool": "asserts",
    "assert_max_tokens": "asserts",
    "assert_no_loop_block": "asserts",
    "assert_on_loop": "asserts",
    "assert_same_thread": "asserts",
    "endpoint_of": "client",
    "loop_blocks": "asserts",
    "peak_tokens": "asserts",
}

__all__ = [
    "Endpoint",
    "Lifespan",
    "LifespanError",
    "ProbeClient",
    "Probed",
    "ProbedClient",
    "assert_in_threadpool",
    "assert_max_tokens",
    "assert_no_loop_block",
    "assert_on_loop",
    "assert_same_thread",
    "endpoint_of",
    "loop_blocks",
    "peak_tokens",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'asgi_lab.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"asgi_lab.testing.{home}"), name)
    globals()[name] = value
    return value
