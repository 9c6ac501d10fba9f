"""The test matrix: a session per Python this machine has, each in its own venv, one on the
oldest Starlette, uvicorn, anyio and httpx the core claims to support, and one on the probe's
hot path compiled by mypyc (`compiled`, tagged `compiled`).

Pythons are found, not listed: every `python3.N` on PATH that runs, and every pyenv version
(`pyenv root`/versions/*/bin/python3), kept when pyproject's `requires-python` admits them. Each
version pyproject's classifiers claim gets a session even when absent here: it is skipped and
says where it looked. The floor version and the newest found run the whole suite, every other
the fast lane (scripts/lanes). Sessions are tagged `current` (the Python running nox, which
scripts/test already covers) or `other`.

    nox -l                the sessions, with the Python each found
    scripts/matrix        every session; extra arguments go to nox (`-s tests-3.12`, `-t other`)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import nox
from packaging.specifiers import SpecifierSet
from packaging.version import Version

__all__ = ["OLDEST", "found_pythons"]

ROOT = Path(__file__).resolve().parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SUPPORTED = SpecifierSet(PROJECT["requires-python"])
CLAIMED = [
    c.rsplit("::", 1)[1].strip()
    for c in PROJECT["classifiers"]
    if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
]

#: What FastAPI 0.115 shipped with: the oldest releases the core (probe, trace, the pytest
#: plugin) is meant to run on, and that FastAPI itself (the dev extra's needs Starlette 1.6+).
#: Installed over the dev extra, which wants newer ones.
OLDEST = [
    "fastapi==0.115.14",
    "starlette==0.46.2",
    "uvicorn[standard]==0.32.1",
    "httpx==0.27.2",
    "anyio==4.6.2",
]
#: The tests of the core: the probe and its hook, sinks, schema and watchdog, `asgi-lab trace`,
#: and the pytest plugin users load.
CORE_TESTS = [
    "tests/test_probe.py",
    "tests/test_hook.py",
    "tests/test_identity.py",
    "tests/test_schema.py",
    "tests/test_sinks.py",
    "tests/test_departures.py",
    "tests/test_redact.py",
    "tests/test_watchdog_rules.py",
    "tests/test_watchdog.py",
    "tests/test_watchdog_graph.py",
    "tests/test_trace_cli.py",
    "tests/test_trace_summary.py",
    "tests/test_testing.py",
]

#: Asks an interpreter its version ("3.13", or "3.13t" where it runs without a GIL by build).
ASK = (
    "import sys, sysconfig; "
    "print(f'{sys.version_info[0]}.{sys.version_info[1]}'"
    " + ('t' if sysconfig.get_config_var('Py_GIL_DISABLED') else ''), sys.version.split()[0])"
)


def candidates() -> list[Path]:
    """Every interpreter to ask: `python3.N[t]` on PATH, then pyenv's versions."""
    found: list[Path] = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder or not Path(folder).is_dir():
            continue
        found += sorted(
            p for p in Path(folder).iterdir() if re.fullmatch(r"python3\.\d+t?", p.name)
        )
    if root := pyenv_root():
        found += sorted((root / "versions").glob("*/bin/python3"))
    return found


def pyenv_root() -> Path | None:
    """pyenv's root, from `pyenv root` (or PYENV_ROOT), when pyenv is there."""
    if pyenv := shutil.which("pyenv"):
        done = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.strip():
            return Path(done.stdout.strip())
    root = os.environ.get("PYENV_ROOT")
    return Path(root) if root else None


def found_pythons() -> dict[str, tuple[str, str]]:
    """Version ("3.12") -> (interpreter path, full version), the first that runs for each.

    A pyenv shim of a version that is not active fails when run: it is asked, and left out.
    """
    pythons: dict[str, tuple[str, str]] = {}
    for path in candidates():
        try:
            done = subprocess.run(
                [str(path), "-c", ASK], capture_output=True, text=True, timeout=20, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode != 0 or len(done.stdout.split()) != 2:
            continue
        key, full = done.stdout.split()
        if key not in pythons and Version(full) in SUPPORTED:
            pythons[key] = (str(path), full)
    return dict(sorted(pythons.items(), key=lambda kv: Version(kv[1][1])))


def version_key(key: str) -> Version:
    return Version(key.rstrip("t"))


PYTHONS = found_pythons()
RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"
FLOOR = min(CLAIMED, key=version_key)
NEWEST = max((k for k in PYTHONS if not k.endswith("t")), key=version_key, default=None)

nox.options.error_on_missing_interpreters = True
nox.options.download_python = "never"

#: A session's install: no bytecode compiled up front (a third of pip's time on the dev extra,
#: 50 -> 33 s measured); the tests compile what they import, once, into the cache scripts/matrix
#: lets them write.
INSTALL = ("--no-compile", "-e", ".[dev]")


def tests(key: str, lane: str) -> Callable[[nox.Session], None]:
    def session(session: nox.Session) -> None:
        path, full = PYTHONS[key]
        session.log(f"Python {full} at {path}: the {lane} lane")
        session.install(*INSTALL)
        session.run(
            "scripts/lanes",
            *(["--fast"] if lane == "fast" else []),
            *session.posargs,
            external=True,
        )

    what = "whole suite" if lane == "full" else "fast lane (not serial)"
    session.__doc__ = f"The {what} on Python {key} ({PYTHONS[key][1]})."
    return session


def absent(key: str) -> Callable[[nox.Session], None]:
    def session(session: nox.Session) -> None:
        root = pyenv_root()
        where = f"on PATH (python{key})" + (f" nor in {root}/versions" if root else ", no pyenv")
        session.skip(f"Python {key} is claimed in pyproject's classifiers but not found {where}")

    session.__doc__ = f"Python {key}: not found on this machine, skipped."
    return session


for key in sorted(set(CLAIMED) | set(PYTHONS), key=version_key):
    tags = ["current" if key == RUNNING else "other"]
    if key not in PYTHONS:
        nox.session(name=f"tests-{key}", python=False, tags=tags)(absent(key))
    else:
        lane = "full" if key in (FLOOR, NEWEST) else "fast"
        nox.session(name=f"tests-{key}", python=PYTHONS[key][0], tags=tags)(tests(key, lane))


@nox.session(python=PYTHONS[FLOOR][0] if FLOOR in PYTHONS else False, tags=["oldest"])
def oldest(session: nox.Session) -> None:
    """The core's tests on the oldest Starlette, uvicorn, httpx and anyio it supports."""
    if FLOOR not in PYTHONS:
        session.skip(f"Python {FLOOR}, the floor, is not found on this machine")
    session.install(*INSTALL)
    # Over the dev extra, which wants newer: pip says which requirements these break, and
    # `pip check` repeats it, for the record; the tests say whether the core minds.
    session.install(*OLDEST)
    session.run("python", "-m", "pip", "check", success_codes=[0, 1])
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", *CORE_TESTS, *session.posargs)


#: What a compiled build leaves out of its copy of the repository: caches, venvs, builds, and
#: any extension module compiled in place, which would stand in for the build under test.
_NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".nox",
    "build",
    "site",
    "traces",
    "*.egg-info",
    "__pycache__",
    "*_cache",
    "*.so",
    "*.pyd",
)


@nox.session(python=PYTHONS[FLOOR][0] if FLOOR in PYTHONS else False, tags=["compiled"])
def compiled(session: nox.Session) -> None:
    """The core's tests on the probe's hot path compiled by mypyc (ASGI_LAB_COMPILE=1)."""
    if FLOOR not in PYTHONS:
        session.skip(f"Python {FLOOR}, the floor, is not found on this machine")
    # Built and tested from a copy without the source package: run from the repository, the
    # tests would import asgi_lab/ from the working tree, never the build.
    copy = Path(session.create_tmp()) / "repository"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(ROOT, copy, ignore=_NOT_COPIED)
    # The plain package first, for its dependencies and mypy: mypyc type-checks the modules it
    # compiles against them, so they must be there before the compiled build, which is then
    # made without build isolation, in this venv, by the dev extra's setuptools (setup.py).
    session.install("--no-compile", f"{copy}[dev]")
    session.run(
        "python", "-m", "pip", "install", "--no-build-isolation", "--no-deps",
        "--force-reinstall", str(copy), env={"ASGI_LAB_COMPILE": "1"},
    )  # fmt: skip
    shutil.rmtree(copy / "asgi_lab")
    session.chdir(copy)
    session.run(
        "python", "-m", "pytest", "-p", "no:cacheprovider", *CORE_TESTS, "tests/test_hot.py",
        *session.posargs, env={"ASGI_LAB_EXPECT_COMPILED": "1"},
    )  # fmt: skip
