"""The build: pure Python unless ASGI_LAB_COMPILE=1 asks for the probe's hot path compiled.

pyproject.toml holds everything else; this file only adds, when asked, the modules of
`asgi_lab/probe/hot.py` compiled by mypyc (it ships with mypy). Building that needs mypy,
setuptools 77 or newer and asgi-lab's dependencies (mypyc type-checks the modules against them)
in the environment that builds, so it is built without isolation:

    pip install "setuptools>=77" "mypy>=2.4,<2.5" .
    ASGI_LAB_COMPILE=1 pip install --no-build-isolation --no-deps --force-reinstall .

Without the variable the wheel is `py3-none-any`, as before this file existed.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

from setuptools import setup

__all__ = ["extensions", "hot_modules"]

HERE = Path(__file__).resolve().parent
HOT = HERE / "asgi_lab" / "probe" / "hot.py"


def hot_modules(source: Path = HOT) -> list[str]:
    """The paths of the modules to compile: `MODULES` in hot.py, read without importing it."""
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "MODULES" for t in node.targets
        ):
            names = ast.literal_eval(node.value)
            return [f"asgi_lab/probe/{name}.py" for name in names]
    raise RuntimeError(f"{source} has no MODULES = (...) naming the modules to compile")


def extensions() -> list[Any]:
    wanted = os.environ.get("ASGI_LAB_COMPILE", "")
    if wanted in ("", "0"):
        return []
    if wanted != "1":
        raise RuntimeError(f"ASGI_LAB_COMPILE must be 1 (compile) or 0 (do not), got {wanted!r}")
    try:
        from mypyc.build import mypycify
    except ImportError as exc:
        raise RuntimeError(
            "ASGI_LAB_COMPILE=1 needs mypy (mypyc) where the wheel is built: install mypy and "
            "build with pip's --no-build-isolation (see setup.py)"
        ) from exc
    # One shared library for the group, under a name of ours rather than a hash.
    return list(mypycify(hot_modules(), opt_level="3", group_name="asgi_lab_probe"))


if __name__ == "__main__":  # as setuptools runs it; tests/test_hot.py imports it
    setup(ext_modules=extensions())
