"""Never echo secrets: redact credential headers and query values wherever the lab shows a scope."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

__all__ = ["REDACTED", "headers", "is_secret", "query_string", "scope"]

REDACTED = "[redacted]"

# Exact names first (the well-known ones), then a pattern for the many home-grown variants:
# x-api-key, x-auth-token, x-session-id, client-secret, ...
SECRET_NAMES = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "x-csrf-token",
        "x-xsrf-token",
    }
)
_SECRET_PATTERN = re.compile(
    r"(authori[sz]ation|auth(?!or)|token|secret|passw(or)?d|pwd|jwt|api[-_]?key|access[-_]?key"
    r"|private[-_]?key|session|cookie|credential|signature)",
    re.I,
)


def is_secret(name: str) -> bool:
    """Whether a header or query parameter of this name may carry a credential."""
    lowered = name.lower()
    return lowered in SECRET_NAMES or _SECRET_PATTERN.search(lowered) is not None


def headers(raw: Iterable[tuple[bytes, bytes]]) -> list[list[str]]:
    """ASGI headers as `[name, value]` strings, secrets replaced by a marker."""
    shown = []
    for name, value in raw:
        key = name.decode("latin-1")
        shown.append([key, REDACTED if is_secret(key) else value.decode("latin-1")])
    return shown


def query_string(raw: bytes) -> str:
    """A query string with the values of secret-looking parameters replaced."""
    if not raw:
        return ""
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    if not any(is_secret(k) for k, _ in pairs):
        return raw.decode("latin-1")
    return urlencode([(k, REDACTED if is_secret(k) else v) for k, v in pairs], safe="[]")


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a scope value; objects become their type's name."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    name = getattr(value, "__qualname__", None) or type(value).__qualname__
    return f"<{name}>"


def scope(scope: Mapping[str, Any]) -> dict[str, Any]:
    """An ASGI scope as JSON, with credentials in headers and query string redacted."""
    shown: dict[str, Any] = {}
    for key, value in scope.items():
        if key == "headers":
            shown[key] = headers(value)
        elif key == "query_string":
            shown[key] = query_string(value)
        elif key == "state":
            # Lifespan state may hold connections and clients; its keys are enough to learn from.
            shown[key] = sorted(str(k) for k in value)
        else:
            shown[key] = _plain(value)
    return shown
