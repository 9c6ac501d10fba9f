"""What each worker of `asgi-lab trace` serves: the user's app with the probe around it.

uvicorn, granian and hypercorn call the factory `asgi_lab.trace.app:app` in every worker; daphne,
which calls no factory, looks up `asgi_lab.trace.app:traced`, made by the same factory on that
first look-up. The app to wrap is named by $ASGI_LAB_APP (and $ASGI_LAB_APP_FACTORY), which
`asgi-lab trace` sets for its workers. The user's code is imported as uvicorn would import it,
unchanged.
"""

from __future__ import annotations

import inspect
from typing import Any

from uvicorn.importer import ImportFromStringError, import_from_string

from asgi_lab import settings
from asgi_lab.probe import ProbeMiddleware
from asgi_lab.types import ASGIApp

__all__ = ["TraceAppError", "app", "load"]  # and `traced`, made on demand


class TraceAppError(RuntimeError):
    """The app to trace could not be found or made."""


def load(target: str, *, factory: bool = False) -> ASGIApp:
    """Import `module:attribute` (calling it when `factory`); errors name what was missing."""
    try:
        found: Any = import_from_string(target)
    except ImportFromStringError as exc:
        raise TraceAppError(str(exc)) from None
    if factory:
        found = found()
    if not callable(found) or not _takes_three(found):
        raise TraceAppError(
            f'"{target}" is not an ASGI app: expected a callable taking (scope, receive, send), '
            f"such as `async def app(scope, receive, send)`, got {_shown(found)}"
        )
    return found  # type: ignore[no-any-return]


def _takes_three(found: Any) -> bool:
    """Whether `found` can be called with three positional arguments, as a server calls an
    ASGI app (a signature that cannot be read, as some C callables', is given the benefit)."""
    try:
        inspect.signature(found).bind(None, None, None)
    except TypeError:
        return False
    except ValueError:  # no signature to read
        return True
    return True


def _shown(found: Any) -> str:
    name = getattr(found, "__qualname__", None) or type(found).__qualname__
    try:
        return f"{name}{inspect.signature(found)}"
    except (TypeError, ValueError):
        return str(name)


def app() -> ProbeMiddleware:
    """The factory uvicorn calls in each worker."""
    # The app to wrap, and nothing of the lab's: a user's app never fails on a lab-only variable.
    current = settings.TraceSettings.from_env()
    if current.app is None:
        raise TraceAppError("$ASGI_LAB_APP must name the app to trace, as 'module:attribute'")
    wrapped = load(current.app, factory=current.app_factory)
    # The package named by the import string is the app's own code, even installed: the
    # watchdog blames its lines, not the library it called (`lnbits.__main__:app`: lnbits).
    own = [current.app.partition(":")[0].partition(".")[0]]
    return ProbeMiddleware(wrapped, log=True, watchdog=True, threads=current.threads, own=own)


_made: list[ProbeMiddleware] = []


def __getattr__(name: str) -> ProbeMiddleware:
    """`traced`: the factory's app, made when a server that calls no factory looks it up."""
    if name != "traced":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not _made:
        _made.append(app())
    return _made[0]
