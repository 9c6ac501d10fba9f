"""The probe's hot path runs as it was built: pure Python by default, compiled by mypyc when the
build asked for it (`ASGI_LAB_COMPILE=1`; noxfile's `compiled` session sets
ASGI_LAB_EXPECT_COMPILED=1 for the package it builds that way)."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

import asgi_lab.probe
from asgi_lab.probe import hot

EXPECT_COMPILED = os.environ.get("ASGI_LAB_EXPECT_COMPILED", "") == "1"
ROOT = Path(__file__).resolve().parent.parent


def test_the_hot_modules_are_what_the_build_made_them() -> None:
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    files = {
        name: str(importlib.import_module(f"asgi_lab.probe.{name}").__file__)
        for name in hot.MODULES
    }
    if EXPECT_COMPILED:
        # Every one an extension module: a compiled build that left one in Python, or tests
        # that import the source tree instead of the built package, fail here.
        assert all(f.endswith(suffixes) for f in files.values()), files
    else:
        assert all(f.endswith(".py") for f in files.values()), files
    assert hot.compiled_modules() == dict.fromkeys(hot.MODULES, EXPECT_COMPILED)
    assert asgi_lab.probe.compiled is EXPECT_COMPILED


def test_every_hot_module_is_a_module_of_the_probe() -> None:
    # setup.py compiles asgi_lab/probe/<name>.py for each name: a renamed module fails here,
    # not only in the compiled build.
    folder = Path(hot.__file__).parent
    assert all((folder / f"{name}.py").is_file() for name in hot.MODULES)


def load_setup() -> ModuleType:
    spec = importlib.util.spec_from_file_location("asgi_lab_setup", ROOT / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_build_compiles_the_hot_modules_only_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    setup = load_setup()
    # hot.py as imported: the compiled session's copy of the repository has no asgi_lab/.
    found = setup.hot_modules(Path(hot.__file__))
    assert found == [f"asgi_lab/probe/{name}.py" for name in hot.MODULES]
    monkeypatch.delenv("ASGI_LAB_COMPILE", raising=False)
    assert setup.extensions() == []
    monkeypatch.setenv("ASGI_LAB_COMPILE", "0")
    assert setup.extensions() == []
    monkeypatch.setenv("ASGI_LAB_COMPILE", "yes")
    with pytest.raises(RuntimeError, match="ASGI_LAB_COMPILE must be 1 .* got 'yes'"):
        setup.extensions()
