"""Every module says what it exports (`__all__`), and each exported name exists: httpx's habit."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import asgi_lab

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(asgi_lab.__path__, "asgi_lab.")
    if info.name != "asgi_lab.__main__"  # running it runs the CLI
)


def test_the_walk_found_the_package() -> None:
    assert {"asgi_lab.settings", "asgi_lab.serving", "asgi_lab.records.schema"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_every_module_declares_its_public_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(exported) == len(set(exported)), f"{name} exports a name twice"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name} exports names it does not define: {missing}"
