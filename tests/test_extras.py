"""A light install: the core imports without the lab, and a command that needs an extra names it.

Uninstalling packages from the test's own environment is not an option, so each case runs in a
subprocess whose `sys.modules` maps the extra's top-level modules to None: how Python marks a
module as unimportable, so `import aiohttp` there fails as it does where aiohttp is missing.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from asgi_lab import extras
from asgi_lab.extras import EXTRAS, MissingExtra
from tests.cli import ROOT

#: The modules a user's core install lacks: the lab's, OpenTelemetry, uvicorn's "standard" extras.
CORE_LACKS = (*EXTRAS["lab"], *EXTRAS["otel"], "uvloop", "httptools", "watchfiles", "websockets")


def without(modules: tuple[str, ...], code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter in which `modules` cannot be imported."""
    prelude = f"import sys\nfor name in {modules!r}:\n    sys.modules[name] = None\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_nothing_is_missing_where_the_dev_extra_is_installed() -> None:
    assert extras.missing("lab") == extras.missing("otel") == []
    extras.require("lab", "this test")


def test_a_missing_module_is_named_with_the_extra_that_brings_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    assert extras.missing("lab") == ["aiohttp", "sqlalchemy"]
    with pytest.raises(MissingExtra) as raised:
        extras.require("lab", "asgi-lab tour")
    assert str(raised.value) == (
        'asgi-lab tour needs the lab extra (aiohttp is not installed): pip install "asgi-lab[lab]"'
    )
    assert raised.value.name == "aiohttp"
    assert isinstance(raised.value, ModuleNotFoundError)  # what importers already catch


def test_an_unknown_extra_is_refused() -> None:
    with pytest.raises(ValueError, match="extra must be one of lab, otel, got 'labs'"):
        extras.missing("labs")


@pytest.mark.parametrize(
    "argv",
    [
        ["experiment", "--list"],
        ["experiment", "clients"],
        ["tour"],
        ["serve", "--port", "0"],
    ],
)
def test_a_lab_command_without_the_lab_extra_says_what_to_install(argv: list[str]) -> None:
    command = f"asgi-lab {argv[0]}"
    done = without(
        ("aiohttp",),
        f"from asgi_lab.cli import main\nsys.exit(main({argv!r}))\n",
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f'{command} needs the lab extra (aiohttp is not installed): pip install "asgi-lab[lab]"\n'
    )
    assert done.stdout == ""  # nothing started, nothing listed


@pytest.mark.parametrize(
    "module",
    [
        "asgi_lab.probe",
        "asgi_lab.probe.otel",
        "asgi_lab.testing.plugin",
        "asgi_lab.testing.asserts",
        "asgi_lab.testing.client",
        "asgi_lab.testing.lifespan",
        "asgi_lab.timeline",
        "asgi_lab.trace.app",
        "asgi_lab.trace.summary",
        "asgi_lab.cli",
        "asgi_lab.trace.command",
        "asgi_lab.timeline.report",
    ],
)
def test_the_core_imports_without_any_extra(module: str) -> None:
    """What `pip install asgi-lab` promises: the probe, the plugin, `trace` and `report`."""
    done = without(CORE_LACKS, f"import {module}\n")
    assert done.returncode == 0, done.stderr
