"""The optional parts of asgi-lab, and the error that names the extra to install.

`pip install asgi-lab` is the probe, the pytest plugin, `asgi-lab trace` and `asgi-lab report`.
The lab (`serve`, `experiment`, `tour`, the layers and the experiments' apps) needs the `lab`
extra. A command that needs an extra checks for it before it starts anything, without importing
it (`importlib.util.find_spec`), so a missing package is one sentence, not a traceback per worker.
"""

from __future__ import annotations

import importlib.util

__all__ = ["EXTRAS", "MissingExtra", "install_command", "missing", "require"]

#: The top-level modules each extra brings that our code imports.
EXTRAS: dict[str, tuple[str, ...]] = {
    "lab": ("starlette", "aiohttp", "pydantic", "a2wsgi", "sqlalchemy", "aiosqlite", "fastapi"),
    "otel": ("opentelemetry",),
}


def install_command(extra: str) -> str:
    """What to run to add `extra`: `pip install "asgi-lab[lab]"`."""
    return f'pip install "asgi-lab[{extra}]"'


class MissingExtra(ModuleNotFoundError):
    """Something needs an extra that is not installed; the message says what to install."""

    def __init__(self, what: str, extra: str, module: str) -> None:
        self.what, self.extra = what, extra
        super().__init__(
            f"{what} needs the {extra} extra ({module} is not installed): {install_command(extra)}",
            name=module,
        )


def missing(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here, in the order `EXTRAS` lists them."""
    if extra not in EXTRAS:
        raise ValueError(f"extra must be one of {', '.join(EXTRAS)}, got {extra!r}")
    # find_spec finds a package without running it; a module set to None in sys.modules (how
    # Python marks one as unimportable) is missing too.
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require(extra: str, what: str) -> None:
    """Raise `MissingExtra` when a module of `extra` is missing; `what` names who needs it."""
    absent = missing(extra)
    if absent:
        raise MissingExtra(what, extra, absent[0])
