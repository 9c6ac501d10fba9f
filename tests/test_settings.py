"""`asgi_lab.settings`: every variable's bounds and error, read at startup and never at import."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
from typing import Any

import pytest

from asgi_lab import settings
from asgi_lab.cli import build_parser, settings_from
from asgi_lab.probe import ProbeMiddleware
from asgi_lab.settings import VARIABLES, ProbeSettings, SettingError, Settings, TraceSettings
from asgi_lab.trace import app as trace_app
from asgi_lab.types import Message, Receive, Scope, Send
from tests.conftest import run_lifespan

#: Per numeric variable: the expected form its error names, values that must be refused, and
#: values that must parse (as text in the environment, and the value they give).
TABLE: dict[str, tuple[str, list[str], list[tuple[str, Any]]]] = {
    "ASGI_LAB_THREADS": (
        "a whole number from 1 to 10000",
        ["lots", "0", "10001", "-1", "1.5", "١", "٣", "５", "5_0", " 7 ", "+3", "0x10"],
        [("1", 1), ("7", 7), ("10000", 10_000)],
    ),
    "ASGI_LAB_MAX_SECONDS": (
        "a number from 0 to 3600",
        ["soon", "-0.5", "3600.5", "nan", "inf", "١", "١.٥"],
        [("0", 0.0), ("2.5", 2.5), ("3600", 3600.0)],
    ),
    "ASGI_LAB_MAX_BODY": (
        # The bound written out whole: a rounded "1.07374e+09" would hide the real limit.
        "a whole number from 0 to 1073741824",
        ["big", "-1", "1073741825", "1e3", "١٠"],
        [("0", 0), ("1024", 1024), ("1073741824", 1024**3)],
    ),
    "ASGI_LAB_LOOPS_PER_MS": (
        "a number from 1 to 1e+09",
        ["fast", "0.5", "1e10", "1e9", "nan", "١"],
        [("1", 1.0), ("2500.5", 2500.5), ("1000000000", 1e9)],
    ),
    "ASGI_LAB_DB_POOL": (
        "a whole number from 1 to 1000",
        ["many", "0", "1001", "2.0", "١"],
        [("1", 1), ("4", 4), ("1000", 1000)],
    ),
    "ASGI_LAB_DB_TIMEOUT": (
        "a number from 0 to 3600",
        ["never", "-1", "3600.5", "nan", "inf", "١"],
        [("0", 0.0), ("0.25", 0.25), ("3600", 3600.0)],
    ),
    "ASGI_LAB_TRACE_MAX_BYTES": (
        "a whole number from 0 to 1099511627776",
        ["lots", "-1", "1099511627777", "1.5", "١"],
        [("0", 0), ("1048576", 1024**2)],
    ),
    "ASGI_LAB_TRACE_KEEP": (
        "a whole number from 1 to 1000",
        ["all", "0", "1001", "2.5", "١"],
        [("1", 1), ("3", 3), ("1000", 1000)],
    ),
    "ASGI_LAB_BLOCK_MS": (
        "0 (no watchdog) or milliseconds from 1 to 3600000",
        # Below a millisecond the heartbeat measures noise: an idle worker would burn a core.
        ["slow", "-1", "3600001", "nan", "١٠٠", "0.001", "0.5", " 7 ", "5_0", "1e2"],
        [("0", 0.0), ("100", 100.0), ("2.5", 2.5), ("1", 1.0)],
    ),
    "ASGI_LAB_APP": (
        "an import string 'module:attribute'",
        ["main", "main:", ":app", "main.app"],
        [("main:app", "main:app"), ("pkg.mod:make", "pkg.mod:make")],
    ),
    "ASGI_LAB_APP_FACTORY": (
        "0 or 1",
        ["yes", "true", "2"],
        [("0", False), ("1", True)],
    ),
    "ASGI_LAB_MAX_BLOCKING": (
        "a whole number from 1 to 10000",
        ["few", "0", "10001", "2.5", "١"],
        [("1", 1), ("4", 4), ("10000", 10_000)],
    ),
    "ASGI_LAB_MAX_BACKGROUND": (
        "a whole number from 1 to 100000",
        ["few", "0", "100001", "2.5", "٣"],
        [("1", 1), ("32", 32), ("100000", 100_000)],
    ),
    "ASGI_LAB_RECORDS_MAX_BYTES": (
        "a whole number from 1024 to 1073741824",
        ["big", "1023", "1073741825", "1e6", "١"],
        [("1024", 1024), ("8388608", 8 * 1024**2)],
    ),
    "ASGI_LAB_LOG": (
        "one of off, line, json",
        ["on", "LINE", "yes"],
        [("off", "off"), ("line", "line"), ("json", "json")],
    ),
    "ASGI_LAB_OTLP": (
        "an http:// or https:// URL",
        [
            "collector:4318",
            "grpc://127.0.0.1:4317",
            "http://",
            "http:///v1/traces",
            "ftp://x",
            "http://a b",
            "http://host:port",
            "http://host:99999",
            " http://host",
            "http://h\n",
        ],
        [
            ("http://127.0.0.1:4318", "http://127.0.0.1:4318"),
            ("https://otel.example", "https://otel.example"),
        ],
    ),
    "ASGI_LAB_LIVE": (
        "an absolute socket path of at most 107 bytes",
        ["live.sock", "./live.sock", "/tmp/a\nb", "/tmp/a\x00b", "/" + "x" * 107],
        [
            ("/tmp/asgi-lab-live-1/live.sock", "/tmp/asgi-lab-live-1/live.sock"),
            ("/" + "x" * 106, "/" + "x" * 106),
        ],
    ),
}

BAD = [(variable, bad) for variable, (_, bads, _) in TABLE.items() for bad in bads]
GOOD = [(variable, raw, value) for variable, (_, _, goods) in TABLE.items() for raw, value in goods]
FIELD = {variable: name for name, variable in VARIABLES.items()}


def test_the_table_covers_every_checked_variable() -> None:
    # A new checked setting must join the table, or it would go untested.
    numeric = {v for v in VARIABLES.values() if v not in ("ASGI_LAB_TRACE_DIR", "ASGI_LAB_DB")}
    assert set(TABLE) == numeric


@pytest.mark.parametrize(("variable", "bad"), BAD)
def test_a_bad_value_names_the_variable_the_value_and_the_form(variable: str, bad: str) -> None:
    expected = TABLE[variable][0]
    with pytest.raises(SettingError) as caught:
        Settings.from_env({variable: bad})
    error = caught.value
    assert (error.variable, error.value, error.expected) == (variable, bad, expected)
    assert str(error) == f"${variable} must be {expected}, got {bad!r}"


@pytest.mark.parametrize(("variable", "raw", "value"), GOOD)
def test_a_good_value_parses(variable: str, raw: str, value: Any) -> None:
    parsed = getattr(Settings.from_env({variable: raw}), FIELD[variable])
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize("variable", list(VARIABLES.values()))
def test_empty_or_unset_means_the_default(variable: str) -> None:
    assert Settings.from_env({variable: ""}) == Settings()
    assert Settings.from_env({}) == Settings()


def test_paths_are_taken_as_given() -> None:
    read = Settings.from_env({"ASGI_LAB_TRACE_DIR": "/tmp/traces", "ASGI_LAB_DB": "lab db.sqlite"})
    assert (read.trace_dir, read.db) == ("/tmp/traces", "lab db.sqlite")


def test_as_env_round_trips_through_from_env() -> None:
    every = Settings(
        threads=3,
        max_seconds=0.1,  # not exact in binary: str() must still give it back
        max_body=10,
        trace_dir="/tmp/traces",
        loops_per_ms=1234.5,
        db="/tmp/lab.db",
        db_pool=2,
        db_timeout=0.3,
        trace_max_bytes=1024,
        trace_keep=5,
        log="json",
        otlp="http://127.0.0.1:4318",
        block_ms=20.0,
        app="main:app",
        app_factory=True,
        max_blocking=2,
        max_background=3,
        records_max_bytes=4096,
        live="/tmp/asgi-lab-live/live.sock",
    )
    env = every.as_env()
    # Every field differs from its default, so every variable is written.
    assert set(env) == set(VARIABLES.values())
    assert Settings.from_env(env) == every
    assert Settings().as_env() == {}
    assert Settings.from_env(Settings().as_env()) == Settings()


def test_as_env_leaves_defaults_out() -> None:
    assert Settings(threads=5, max_seconds=Settings().max_seconds).as_env() == {
        "ASGI_LAB_THREADS": "5"
    }


def test_replace_checks_its_values_and_keeps_the_rest() -> None:
    base = Settings(db_pool=3)
    changed = base.replace(threads=4, max_seconds="2.5")
    assert (changed.threads, changed.max_seconds, changed.db_pool) == (4, 2.5, 3)
    assert base.threads is None, "replace returns a copy"


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"threads": 0}, "ASGI_LAB_THREADS"),
        ({"max_seconds": float("nan")}, "ASGI_LAB_MAX_SECONDS"),
        ({"max_body": -1}, "ASGI_LAB_MAX_BODY"),
        ({"loops_per_ms": "١"}, "ASGI_LAB_LOOPS_PER_MS"),
        ({"db_pool": 1001}, "ASGI_LAB_DB_POOL"),
    ],
)
def test_replace_refuses_what_the_environment_would(changes: dict[str, Any], variable: str) -> None:
    with pytest.raises(SettingError) as caught:
        Settings().replace(**changes)
    assert caught.value.variable == variable


def test_importing_every_module_reads_no_setting() -> None:
    """Settings are read at startup: with every number variable bad, every module still imports,
    and only `load()` (what a lifespan calls) fails."""
    code = (
        "import importlib, pkgutil, asgi_lab\n"
        "from asgi_lab import settings\n"
        "names = [m.name for m in pkgutil.walk_packages(asgi_lab.__path__, 'asgi_lab.')\n"
        "         if not m.name.endswith('__main__')]\n"
        "for name in names: importlib.import_module(name)\n"
        "print(' '.join(names))\n"
        "try: settings.load()\n"
        "except settings.SettingError as exc: print(exc.variable)\n"
    )
    env = {**os.environ, **{variable: bads[0] for variable, (_, bads, _) in TABLE.items()}}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    imported, failed = done.stdout.splitlines()
    assert {"asgi_lab.raw", "asgi_lab.routes", "asgi_lab.api"} <= set(imported.split())
    # The environment really is bad: load() refuses it (naming the first bad variable it reads).
    assert failed in TABLE


@pytest.mark.anyio
async def test_a_bad_value_fails_the_layers_startup(
    layer_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASGI_LAB_MAX_SECONDS", "soon")
    messages: list[Message] = []
    # Starlette re-raises after reporting the failure (uvicorn logs it); the raw layer returns.
    with contextlib.suppress(SettingError):
        await run_lifespan(layer_app, messages=messages)
    [failed] = messages
    assert failed["type"] == "lifespan.startup.failed"
    assert "$ASGI_LAB_MAX_SECONDS must be a number from 0 to 3600, got 'soon'" in failed["message"]


def test_replace_names_an_unknown_setting() -> None:
    with pytest.raises(TypeError, match="no such setting: nope; expected one of trace_dir, "):
        Settings().replace(nope=1)
    with pytest.raises(TypeError, match="no such setting: db_pool; expected one of trace_dir, "):
        ProbeSettings().replace(db_pool=1)


#: The variables a probe reads, and those only our layers and the lab read.
PROBE_VARIABLES = {VARIABLES[f.name] for f in dataclasses.fields(ProbeSettings)}
TRACE_VARIABLES = {VARIABLES[f.name] for f in dataclasses.fields(TraceSettings)}
LAB_ONLY = {v: bads[0] for v, (_, bads, _) in TABLE.items() if v not in TRACE_VARIABLES}


def test_the_probe_reads_its_own_variables() -> None:
    assert PROBE_VARIABLES == {
        "ASGI_LAB_TRACE_DIR",
        "ASGI_LAB_TRACE_MAX_BYTES",
        "ASGI_LAB_TRACE_KEEP",
        "ASGI_LAB_LOG",
        "ASGI_LAB_BLOCK_MS",
        "ASGI_LAB_OTLP",
        "ASGI_LAB_LIVE",
    }
    # A traced worker also reads the app to wrap and the tokens to give it (`trace --threads`).
    assert TRACE_VARIABLES - PROBE_VARIABLES == {
        "ASGI_LAB_APP",
        "ASGI_LAB_APP_FACTORY",
        "ASGI_LAB_THREADS",
    }
    assert "ASGI_LAB_DB_POOL" in LAB_ONLY
    assert settings.load_probe(LAB_ONLY) == ProbeSettings()
    assert settings.load_probe({**LAB_ONLY, "ASGI_LAB_LOG": "json"}).log == "json"


async def plain_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A user's app that starts and stops and knows nothing of asgi_lab."""
    assert scope["type"] == "lifespan"
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return


@pytest.mark.anyio
async def test_a_lab_only_variable_never_stops_a_probed_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable, bad in {**LAB_ONLY, "ASGI_LAB_DB_POOL": "x"}.items():
        monkeypatch.setenv(variable, bad)
    assert await run_lifespan(ProbeMiddleware(plain_app, trace=None)) == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    with pytest.raises(SettingError, match="ASGI_LAB_"):
        settings.load()  # the lab would refuse it: the environment really is bad


@pytest.mark.anyio
async def test_a_bad_probe_variable_still_stops_a_probed_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASGI_LAB_BLOCK_MS", "slow")
    messages: list[Message] = []
    await run_lifespan(ProbeMiddleware(plain_app, trace=None), messages=messages)
    assert messages[0] == {
        "type": "lifespan.startup.failed",
        "message": "$ASGI_LAB_BLOCK_MS must be 0 (no watchdog) or milliseconds from 1 to "
        "3600000, got 'slow'",
    }


def test_a_traced_worker_and_the_trace_command_read_no_lab_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable, bad in LAB_ONLY.items():
        monkeypatch.setenv(variable, bad)
    monkeypatch.setenv("ASGI_LAB_APP", "tests.apps.blockers:app")
    assert isinstance(trace_app.app(), ProbeMiddleware)
    args = build_parser().parse_args(["trace", "tests.apps.blockers:app", "--threads", "3"])
    chosen = settings_from(args, TraceSettings)
    assert (chosen.app, chosen.threads, chosen.db_pool) == ("tests.apps.blockers:app", 3, 4)
    # The lab's commands still check every variable before they start a worker.
    with pytest.raises(SettingError, match="ASGI_LAB_"):
        settings_from(build_parser().parse_args(["serve"]))
    monkeypatch.setenv("ASGI_LAB_OTLP", "collector:4318")
    with pytest.raises(SettingError, match="ASGI_LAB_OTLP"):
        settings_from(args, TraceSettings)


FLAGS = {"ASGI_LAB_THREADS": "--threads", "ASGI_LAB_BLOCK_MS": "--block-ms"}
FLAGS["ASGI_LAB_OTLP"] = "--otlp"


@pytest.mark.parametrize("variable", sorted(FLAGS))
def test_a_flag_takes_exactly_what_its_variable_takes(
    variable: str, capsys: pytest.CaptureFixture[str]
) -> None:
    expected, bads, goods = TABLE[variable]
    parser = build_parser()
    for bad in bads:
        with pytest.raises(SystemExit) as exited:
            parser.parse_args(["trace", "m:app", FLAGS[variable], bad])
        assert exited.value.code == 2
        assert f"expected {expected}, got {bad!r}" in capsys.readouterr().err
    for good, value in goods:
        args = parser.parse_args(["trace", "m:app", FLAGS[variable], good])
        assert getattr(args, FLAGS[variable][2:].replace("-", "_")) == value
