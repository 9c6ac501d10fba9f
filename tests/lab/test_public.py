"""Each lab module exports exactly the names it means to, and every one of them exists."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

MODULES = [
    "asgi_lab.lab.clients",
    "asgi_lab.lab.cpu",
    "asgi_lab.lab.footprint",
    "asgi_lab.lab.harness",
    "asgi_lab.lab.experiments",
    "asgi_lab.lab.pages",
    "asgi_lab.lab.queueing",
    "asgi_lab.lab.observed",
    "asgi_lab.lab.report",
    "asgi_lab.lab.runner",
    "asgi_lab.lab.verdicts",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(exported) == len(set(exported)), "no name twice"
    assert sorted(exported) == sorted(n for n in exported if hasattr(module, n))


def test_the_lab_does_not_import_the_cli() -> None:
    """Arrows point down: importing every lab module must not pull in asgi_lab.cli."""
    code = f"import sys; import {', '.join(MODULES)}; print('asgi_lab.cli' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"
