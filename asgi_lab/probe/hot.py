"""The probe's hot path: which modules every probed request runs through, and whether they run
compiled.

The default install is pure Python. A build with `ASGI_LAB_COMPILE=1` (see `setup.py` and the
README) compiles the modules in `MODULES` with mypyc, the compiler that ships with mypy: the same
source, as C extension modules. `setup.py` reads `MODULES` from this file without importing the
package, so this module imports nothing of asgi_lab at import time.

Compiled, these modules' functions call each other directly and their classes are fixed: code
that replaces a function or method in them at runtime (a test's monkeypatch) no longer reaches
the calls made inside them, and their classes cannot be subclassed in Python. Replacing
`anyio.to_thread.run_sync` (the threadpool hook, `hook.py`) works the same either way.
"""

from __future__ import annotations

import importlib
import importlib.machinery

__all__ = ["MODULES", "compiled_modules"]

#: The modules every probed request runs through, in `asgi_lab.probe`: the middleware and its
#: record, the threadpool hook, thread and loop identity, the endpoint lookups and the fault
#: counter. (`executors.py` and `pools.py` compile too, but both compiled crashed the interpreter
#: in tests/test_executors.py (a segfault, the stack already corrupt), and `pools.py` alone broke
#: the executor hook's subclass of its `Ticket` (hops lost their thread); not yet understood, so
#: they stay Python, and so does `sinks.py`, which runs off the loop.)
MODULES = ("middleware", "record", "hook", "identity", "endpoints", "faults")


def compiled_modules() -> dict[str, bool]:
    """Each hot module, and whether it was loaded from an extension module."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    found = {}
    for name in MODULES:
        module = importlib.import_module(f"asgi_lab.probe.{name}")
        found[name] = str(getattr(module, "__file__", "")).endswith(suffixes)
    return found
