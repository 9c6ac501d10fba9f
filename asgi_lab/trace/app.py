"""What each worker of `asgi-lab trace` serves: the user's app with the probe around it.

uvicorn imports `asgi_lab.trace.app:app` as a factory in every worker; the app to wrap is named
by $ASGI_LAB_APP (and $ASGI_LAB_APP_FACTORY), which `asgi-lab trace` sets for its workers. The
user's code is imported as uvicorn would import it, unchanged.
"""

from __future__ import annotations

from typing import Any

from uvicorn.importer import ImportFromStringError, import_from_string

from asgi_lab import settings
from asgi_lab.probe import ProbeMiddleware
from asgi_lab.types import ASGIApp

__all__ = ["TraceAppError", "app", "load"]


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
    if not callable(found):
        raise TraceAppError(
            f'"{target}" is not an ASGI app (a callable), got {type(found).__name__}'
        )
    return found  # type: ignore[no-any-return]


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
