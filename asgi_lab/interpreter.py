"""Which Python runs the servers: the one running us, or another given with `--python PATH`.

`check(path, server)` runs the interpreter once, before any server starts, and says in one
error what is wrong with it: not there, not executable, not a Python, or without asgi-lab or the
server installed. `PythonData` is what a worker says of the Python it runs on (the lab's `/`
answers it): its version, and whether the GIL is on, read with `sys._is_gil_enabled()` inside the
worker, because a free-threaded build turns the GIL back on at run time when it imports an
extension module not marked safe without it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

__all__ = ["InterpreterError", "PythonData", "check", "install_hint"]

#: Seconds an interpreter gets to import asgi_lab and a server (a cold disk, a busy box).
CHECK_TIMEOUT = 60.0
#: The module each server runs as (`python -m <module>`).
MODULES = {"uvicorn": "uvicorn", "granian": "granian", "hypercorn": "hypercorn", "daphne": "daphne"}


class InterpreterError(ValueError):
    """A `--python` that cannot run our servers, named with what is missing."""


@dataclass(frozen=True, slots=True)
class PythonData:
    """The Python a worker runs on, as it says itself."""

    version: str
    executable: str
    #: Built without the GIL (`Py_GIL_DISABLED`, the "t" builds: 3.13t, 3.14t).
    free_threaded: bool
    #: `sys._is_gil_enabled()` where it exists (3.13+); None before: the GIL is always on.
    gil: bool | None

    @classmethod
    def here(cls) -> PythonData:
        """The Python this code runs on, now (the GIL can come back on after an import)."""
        is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
        return cls(
            platform.python_version(),
            sys.executable,
            bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
            None if is_gil_enabled is None else bool(is_gil_enabled()),
        )

    @classmethod
    def from_json(cls, data: Any) -> PythonData:
        gil = data["gil"]
        return cls(
            str(data["version"]),
            str(data["executable"]),
            bool(data["free_threaded"]),
            None if gil is None else bool(gil),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "executable": self.executable,
            "free_threaded": self.free_threaded,
            "gil": self.gil,
        }

    @property
    def gil_words(self) -> str:
        """The GIL's state in words, for a report's facts."""
        if self.gil is None:
            return "GIL: always on (Python < 3.13)"
        if not self.gil:
            return "GIL: off (free-threaded build)"
        if self.free_threaded:
            # PYTHON_GIL=1, or an extension module imported that does not declare it is safe.
            return "GIL: on (a free-threaded build that turned it back on)"
        return "GIL: on (sys._is_gil_enabled())"


def install_hint(path: str) -> str:
    """How to install asgi-lab into the interpreter at `path`: from this checkout, when we run
    from one (editable, as scripts/install does), else from the package index."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file():
        return f"{path} -m pip install -e '{root}[lab]'"
    return f"{path} -m pip install 'asgi-lab[lab]'"


def check(path: str, server: str = "uvicorn") -> PythonData:
    """The interpreter at `path`, as it describes itself once it has imported asgi_lab and
    `server`'s module; raises `InterpreterError` naming the path and what is missing."""
    if server not in MODULES:
        raise InterpreterError(f"no such server {server!r}; expected one of {', '.join(MODULES)}")
    found = Path(path).expanduser()
    if not found.exists():
        raise InterpreterError(f"--python {path}: no such file")
    if found.is_dir() or not os.access(found, os.X_OK):
        raise InterpreterError(f"--python {path}: not an executable file")
    # Not resolved: a venv's python is a symlink, and only under its own name does it see the
    # venv's site-packages.
    absolute = str(found.absolute())
    probe = f"import asgi_lab, {MODULES[server]}"
    # It describes itself, so a program that ignores `-c` and exits 0 (`/bin/true`) is not
    # taken for a Python.
    describe = (
        f"{probe}, json; from asgi_lab.interpreter import PythonData; "
        "print(json.dumps(PythonData.here().to_json()))"
    )
    try:
        done = subprocess.run(
            [absolute, "-c", describe],
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except OSError as exc:
        raise InterpreterError(f"--python {path}: cannot run it: {exc}") from None
    except subprocess.TimeoutExpired:
        raise InterpreterError(
            f"--python {path}: `{probe}` did not finish within {CHECK_TIMEOUT:g} s"
        ) from None
    if done.returncode != 0:
        said = done.stderr.strip().splitlines()
        last = said[-1] if said else f"exit status {done.returncode}"
        missing = "ModuleNotFoundError" in last or "ImportError" in last
        hint = f"; install asgi-lab into that interpreter: {install_hint(absolute)}"
        raise InterpreterError(
            f"--python {path} cannot run `{probe}`: {last}" + (hint if missing else "")
        )
    try:
        told = PythonData.from_json(json.loads(done.stdout))
    except (ValueError, TypeError, KeyError):
        raise InterpreterError(
            f"--python {path}: not a Python (it did not run `{probe}`)"
        ) from None
    return replace(told, executable=absolute)
