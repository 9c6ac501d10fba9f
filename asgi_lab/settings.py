"""Every `ASGI_LAB_*` environment variable: its default, its bounds and its error, in one place.

Three readers, each reading only its own variables, so that a value only the lab reads never
stops a user's app: a probe reads `ProbeSettings` when its app starts (`load_probe()`); a worker
of `asgi-lab trace` reads `TraceSettings` (the probe's, and the app to wrap); our layers and
the lab read all of `Settings`.

Settings are read when something starts, never at import: a layer's lifespan calls `load()` (a
bad value fails startup with a message naming the variable, the value and the expected form),
the CLI builds a `Settings` from its flags and hands it to the workers with `as_env()`, and
`current()` gives handlers the values loaded last (loading them on first use when no lifespan
ran, as under httpx's `ASGITransport`).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Self
from urllib.parse import urlsplit

__all__ = [
    "argument",
    "strict_number",
    "LOG_MODES",
    "MAX_THREADS",
    "VARIABLES",
    "ProbeSettings",
    "SettingError",
    "Settings",
    "TraceSettings",
    "current",
    "forget",
    "load",
    "load_probe",
]

#: More threadpool tokens than this per worker is a typo, not an experiment.
MAX_THREADS = 10_000
#: What ASGI_LAB_LOG accepts: no line, a line for people, a JSON object for machines.
LOG_MODES = ("off", "line", "json")


class SettingError(ValueError):
    """An environment variable whose value is not of the expected form."""

    def __init__(self, variable: str, value: str, expected: str) -> None:
        self.variable, self.value, self.expected = variable, value, expected
        super().__init__(f"${variable} must be {expected}, got {value!r}")


def _bound(bound: float, whole: bool) -> str:
    # Whole bounds in full: "{:g}" would round 1024**3 to "1.07374e+09", below the real limit.
    return str(int(bound)) if whole else f"{bound:g}"


# Numbers as people write them, and nothing else: "5_0", " 7 ", "1e3", "inf" and Unicode
# digits such as '١' (which int() and float() all take) are refused.
_WHOLE = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")


def strict_number(raw: str, *, whole: bool) -> float:
    """`raw` as a plain decimal number (`12`, `0.5`); `ValueError` for any other spelling."""
    if (_WHOLE if whole else _DECIMAL).fullmatch(raw) is None:
        raise ValueError(raw)
    return int(raw) if whole else float(raw)


def _number(low: float, high: float, *, whole: bool) -> tuple[Callable[[str], Any], str]:
    """A parser for a number from `low` to `high`, and the words for its form."""
    expected = (
        f"a {'whole ' if whole else ''}number from {_bound(low, whole)} to {_bound(high, whole)}"
    )

    def parse(raw: str) -> Any:
        value = strict_number(raw, whole=whole)
        if not (math.isfinite(value) and low <= value <= high):
            raise ValueError(raw)
        return value

    return parse, expected


def _block_ms(raw: str) -> float:
    # The heartbeat cannot measure below a millisecond: a smaller threshold reports noise as
    # stalls and keeps an idle worker busy.
    value = strict_number(raw, whole=False)
    if not (value == 0 or 1 <= value <= 3_600_000):
        raise ValueError(raw)
    return value


def _text(raw: str) -> str:
    return raw


def _url(raw: str) -> str:
    if not raw.isprintable() or any(c.isspace() for c in raw):
        raise ValueError(raw)
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(raw)
    parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    return raw


#: The longest path a Unix socket address holds on Linux (`sun_path` is 108 bytes with its NUL).
_SOCKET_PATH_BYTES = 107


def _socket_path(raw: str) -> str:
    if not (raw.startswith("/") and raw.isprintable()):
        raise ValueError(raw)
    if len(os.fsencode(raw)) > _SOCKET_PATH_BYTES:
        raise ValueError(raw)
    return raw


def _import_string(raw: str) -> str:
    module, sep, attribute = raw.partition(":")
    if not (sep and module and attribute):
        raise ValueError(raw)
    return raw


def _flag(raw: str) -> bool:
    if raw not in ("0", "1"):
        raise ValueError(raw)
    return raw == "1"


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in choices:
            raise ValueError(raw)
        return raw

    return parse


@dataclass(frozen=True)
class ProbeSettings:
    """What a probe reads when its app starts, and nothing more: a user's app under the probe is
    never stopped by a variable only the lab reads. `None` means "not set"."""

    #: ASGI_LAB_TRACE_DIR: where each worker writes `records-<pid>.jsonl`; None writes nothing.
    trace_dir: str | None = None
    #: ASGI_LAB_TRACE_MAX_BYTES: past this a worker's file is rotated (`.1`); 0 never rotates.
    trace_max_bytes: int = 64 * 1024 * 1024
    #: ASGI_LAB_TRACE_KEEP: rotated files kept per worker (`.1` newest); older ones are deleted,
    #: their records counted as rotated away.
    trace_keep: int = 3
    #: ASGI_LAB_LOG: a log line per request: "off", "line" or "json"; None leaves it to the app.
    log: str | None = None
    #: ASGI_LAB_BLOCK_MS: the watchdog reports a loop stalled this long; 0 turns it off; None
    #: leaves it to the app (the three layers and `asgi-lab trace`: 100 ms).
    block_ms: float | None = None
    #: ASGI_LAB_OTLP: an OTLP/HTTP collector (`http://host:4318`) every probe sends spans to.
    otlp: str | None = None
    #: ASGI_LAB_LIVE: the Unix datagram socket of a live page (`asgi-lab trace --live`) each
    #: worker sends its snapshots to; None sends nothing.
    live: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings in `environ` (default: `os.environ`); unset or empty means the default.

        Only this class's variables are read: `ProbeSettings.from_env()` never looks at a lab's.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            variable = VARIABLES[f.name]
            raw = env.get(variable, "")
            if raw == "":
                continue
            parse, expected = _PARSERS[f.name]
            try:
                values[f.name] = parse(raw)
            except ValueError:
                raise SettingError(variable, raw, expected) from None
        return cls(**values)

    def as_env(self) -> dict[str, str]:
        """The variables that give a worker process these settings (defaults left out)."""
        env: dict[str, str] = {}
        default = type(self)()
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and value != getattr(default, f.name):
                env[VARIABLES[f.name]] = _render(value)
        return env

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes`, each checked as if it came from the environment."""
        names = [f.name for f in fields(self)]
        unknown = sorted(set(changes) - set(names))
        if unknown:
            raise TypeError(
                f"no such setting: {', '.join(unknown)}; expected one of {', '.join(names)}"
            )
        checked = type(self).from_env({VARIABLES[k]: _render(v) for k, v in changes.items()})
        return replace(self, **{k: getattr(checked, k) for k in changes})


@dataclass(frozen=True)
class TraceSettings(ProbeSettings):
    """What a worker of `asgi-lab trace` reads: the probe's settings and the app to wrap."""

    #: ASGI_LAB_APP: the app `asgi-lab trace` serves, `module:attribute` (set for its workers).
    app: str | None = None
    #: ASGI_LAB_APP_FACTORY: "1" when `app` names a factory to call.
    app_factory: bool = False
    #: ASGI_LAB_THREADS: threadpool tokens per worker; None keeps anyio's 40.
    threads: int | None = None


@dataclass(frozen=True)
class Settings(TraceSettings):
    """Every variable our own workers read: the probe's, the traced app's, the layers' and the
    lab's. The CLI and `asgi_lab.serving` hand these to every worker they start."""

    #: ASGI_LAB_MAX_SECONDS: the largest `seconds` (and `ms` / 1000) a request may ask for.
    max_seconds: float = 30.0
    #: ASGI_LAB_MAX_BODY: the largest `POST /echo` body, in bytes.
    max_body: int = 1024 * 1024
    #: ASGI_LAB_LOOPS_PER_MS: pure-Python loops per millisecond of CPU work; None measures it.
    loops_per_ms: float | None = None
    #: ASGI_LAB_DB: the lab's database file; None makes one per worker in the temp directory.
    db: str | None = None
    #: ASGI_LAB_DB_POOL: connections in the lab database app's shared pool.
    db_pool: int = 4
    #: ASGI_LAB_DB_TIMEOUT: seconds a request waits for a pooled SQLAlchemy connection before
    #: SQLAlchemy's `TimeoutError` (its `pool_timeout`); a deadlocked pool ends, never hangs.
    db_timeout: float = 30.0
    #: ASGI_LAB_MAX_BLOCKING: requests per worker that may block the loop (`/async/block`) at
    #: once, queued or running; more are answered 503.
    max_blocking: int = 4
    #: ASGI_LAB_MAX_BACKGROUND: background jobs per worker accepted and not yet finished.
    max_background: int = 32
    #: ASGI_LAB_RECORDS_MAX_BYTES: the largest `/_lab/records` answer; older records are left out.
    records_max_bytes: int = 8 * 1024 * 1024

    @property
    def max_ms(self) -> int:
        return int(self.max_seconds * 1000)

    @classmethod
    def of(cls, part: ProbeSettings) -> Settings:
        """`part` (the probe's or a trace's settings) with every other setting at its default."""
        return cls(**{f.name: getattr(part, f.name) for f in fields(part)})


def _render(value: Any) -> str:
    """A value as its variable spells it."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


#: The environment variable behind each field.
VARIABLES: dict[str, str] = {f.name: f"ASGI_LAB_{f.name.upper()}" for f in fields(Settings)}

_PARSERS: dict[str, tuple[Callable[[str], Any], str]] = {
    "threads": _number(1, MAX_THREADS, whole=True),
    "max_seconds": _number(0, 3600, whole=False),
    "max_body": _number(0, 1024**3, whole=True),
    "trace_dir": (_text, "a directory path"),
    "trace_max_bytes": _number(0, 2**40, whole=True),
    "trace_keep": _number(1, 1000, whole=True),
    "log": (_choice(LOG_MODES), "one of " + ", ".join(LOG_MODES)),
    "block_ms": (_block_ms, "0 (no watchdog) or milliseconds from 1 to 3600000"),
    "app": (_import_string, "an import string 'module:attribute'"),
    "app_factory": (_flag, "0 or 1"),
    "loops_per_ms": _number(1, 1e9, whole=False),
    "db": (_text, "a file path"),
    "db_pool": _number(1, 1000, whole=True),
    "db_timeout": _number(0, 3600, whole=False),
    "otlp": (_url, "an http:// or https:// URL"),
    "live": (_socket_path, f"an absolute socket path of at most {_SOCKET_PATH_BYTES} bytes"),
    "max_blocking": _number(1, 10_000, whole=True),
    "max_background": _number(1, 100_000, whole=True),
    "records_max_bytes": _number(1024, 1024**3, whole=True),
}

_current: Settings | None = None


def argument(name: str) -> Callable[[str], Any]:
    """An argparse type for the setting `name`: the parser and the words the environment uses,
    so a flag and its variable accept exactly the same values."""
    import argparse

    parse, expected = _PARSERS[name]

    def checked(text: str) -> Any:
        try:
            return parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None

    checked.__name__ = name  # argparse names the type in its messages
    return checked


def load_probe(environ: Mapping[str, str] | None = None) -> ProbeSettings:
    """Read the probe's settings now (when its app starts); raises `SettingError`.

    The probe keeps what it read: `current()` stays the layers' and the lab's.
    """
    return ProbeSettings.from_env(environ)


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Read every setting now (a layer's startup) and make them `current()`; raises
    `SettingError`."""
    global _current
    _current = Settings.from_env(environ)
    return _current


def current() -> Settings:
    """The settings loaded last, loaded from the environment on first use."""
    return _current if _current is not None else load()


def forget() -> None:
    """Forget the loaded settings: the next `current()` reads the environment again."""
    global _current
    _current = None
