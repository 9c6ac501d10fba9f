"""The probe's hot path runs as it was built: pure Python by default, compiled by mypyc when the
build asked for it (`ASGI_LAB_COMPILE=1`; noxfile's `compiled` session sets
ASGI_LAB_EXPECT_COMPILED=1 for the package it builds that way)."""

from __future__ import annotations

import importlib
import importlib.machinery
import os
from pathlib import Path

import asgi_lab.probe
from asgi_lab.probe import hot

EXPECT_COMPILED = os.environ.get("ASGI_LAB_EXPECT_COMPILED", "") == "1"


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
