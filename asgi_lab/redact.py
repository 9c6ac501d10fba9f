"""Show what a client sent, safely: credentials redacted wherever the lab shows a scope, a path,
headers or a query, and control characters escaped wherever a line is printed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus

__all__ = [
    "REDACTED",
    "form",
    "headers",
    "is_secret",
    "printable",
    "query_string",
    "scope",
    "userinfo",
]

REDACTED = "[redacted]"

# The rule, in three parts, on the lower-cased name:
# 1. well-known exact names (`code` is OAuth's authorization code);
# 2. long words that are secrets wherever they appear, even run together ("sessionid",
#    "accesstoken"); `auth` too, but not `author`/`authority` (`:authority` is a plain header);
# 3. short words that are secrets only as a whole word between separators: `x-client-key` and
#    `sig` are, `keyboard`, `monkey`, `design` and `passenger` are not.
SECRET_NAMES = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "code", "apikey"}
)
_SECRET_PATTERN = re.compile(
    r"(token|secret|passw|passphrase|session|cookie|credential|bearer|signature|authori[sz]"
    r"|auth(?!or)|api[-_]?key)"
)
SECRET_WORDS = frozenset(
    {
        "key",
        "keys",
        "pass",
        "pwd",
        "pin",
        "sig",
        "otp",
        "totp",
        "jwt",
        "csrf",
        "xsrf",
        "hmac",
        "sid",
    }
)
_WORD = re.compile(r"[a-z0-9]+")


def is_secret(name: str) -> bool:
    """Whether a header, query parameter or form field of this name may carry a credential."""
    lowered = name.lower()
    if lowered in SECRET_NAMES or _SECRET_PATTERN.search(lowered) is not None:
        return True
    return any(word in SECRET_WORDS for word in _WORD.findall(lowered))


def headers(raw: Iterable[tuple[bytes, bytes]]) -> list[list[str]]:
    """ASGI headers as `[name, value]` strings, secrets replaced by a marker."""
    shown = []
    for name, value in raw:
        key = name.decode("latin-1")
        shown.append([key, REDACTED if is_secret(key) else value.decode("latin-1")])
    return shown


_SEPARATOR = re.compile(r"([&;])")


def form(raw: bytes | str) -> str:
    """A query string or form-encoded body with the values of secret-looking fields replaced.

    Fields split on `&` and `;` (some servers and frameworks still take both); names are read
    percent- and plus-decoded, everything else is shown as sent.
    """
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    parts = _SEPARATOR.split(text)
    for index in range(0, len(parts), 2):
        name, sep, _ = parts[index].partition("=")
        if is_secret(unquote_plus(name)):
            parts[index] = f"{name}{sep or '='}{REDACTED}"
    return "".join(parts)


def query_string(raw: bytes) -> str:
    """A query string with the values of secret-looking parameters replaced."""
    return form(raw) if raw else ""


# `scheme://user:password@` at the start of an absolute-form request target (HTTP/1.1 allows one;
# uvicorn's h11 parser passes it on as the path).
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@]*@")


def userinfo(target: str) -> str:
    """`target` with the user name and password of an absolute URL replaced by the marker."""
    if "@" not in target:
        return target
    return _USERINFO.sub(rf"\g<1>{REDACTED}@", target, count=1)


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def printable(text: str) -> str:
    """`text` safe to print on one line: CR, LF, escape sequences and every other character that
    is not printable (controls, bidi overrides, line separators) written as escapes, and the
    backslash doubled, so a client cannot forge a line or drive the terminal."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(
        c if c.isprintable() and c != "\\" else _ESCAPES.get(c) or _escape(c) for c in text
    )


def _escape(c: str) -> str:
    code = ord(c)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


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
        elif key in ("path", "raw_path"):
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            shown[key] = userinfo(text)
        elif key == "state":
            # Lifespan state may hold connections and clients; its keys are enough to learn from.
            shown[key] = sorted(str(k) for k in value)
        else:
            shown[key] = _plain(value)
    return shown
