"""`--python PATH`: servers on another interpreter, checked first, and what a worker says of its
Python (version, GIL) read back from the worker itself."""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from asgi_lab import cli, serving
from asgi_lab.interpreter import InterpreterError, PythonData, check, install_hint
from asgi_lab.lab.experiments.gil import Trial, in_parallel, taking_turns, worker_python
from asgi_lab.lab.harness import Context, Experiment, run_experiment
from asgi_lab.serving import ServerOptions

ROOT = Path(__file__).resolve().parent.parent


def test_a_missing_python_is_named_and_the_experiment_never_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-python"
    assert cli.main(["experiment", "gil", "--python", str(missing), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"--python {missing}: no such file" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", [["serve"], ["trace", "app:app"]])
def test_serve_and_trace_check_the_python_before_serving(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-python"
    assert cli.main([*command, "--python", str(missing), "--port", "0"]) == 2
    assert f"asgi-lab: --python {missing}: no such file" in capsys.readouterr().err


def test_a_file_that_is_not_executable_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "python"
    plain.write_text("")
    with pytest.raises(InterpreterError, match="not an executable file"):
        check(str(plain))
    with pytest.raises(InterpreterError, match="not an executable file"):
        check(str(tmp_path))


def test_a_program_that_exits_0_is_not_taken_for_a_python(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    with pytest.raises(InterpreterError, match=r"not a Python \(it did not run `import asgi_lab"):
        check(str(fake))


def test_a_python_without_asgi_lab_says_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A venv of our own Python without our packages: a real interpreter that lacks asgi_lab.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path)], check=True)
    bare = tmp_path / "bin" / "python"
    assert cli.main(["tour", "--python", str(bare), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"--python {bare} cannot run `import asgi_lab, uvicorn`" in err
    # asgi_lab may come from the working directory (`-c` puts it on sys.path, as uvicorn's
    # --app-dir . does for the servers): the first module missing is named, whichever it is.
    assert "ModuleNotFoundError: No module named" in err
    assert f"install asgi-lab into that interpreter: {bare} -m pip install -e '{ROOT}[lab]'" in err


def test_the_hint_installs_from_this_checkout() -> None:
    assert install_hint("/x/python") == f"/x/python -m pip install -e '{ROOT}[lab]'"


def test_our_own_python_describes_itself_after_importing_the_server() -> None:
    told = check(sys.executable, "uvicorn")
    assert told == PythonData.here()
    assert told.version == platform.python_version()
    with pytest.raises(InterpreterError, match="no such server 'gunicorn'"):
        check(sys.executable, "gunicorn")


def test_the_servers_command_runs_the_python_given() -> None:
    assert ServerOptions().command(3)[:3] == [sys.executable, "-m", "uvicorn"]
    for server in ("uvicorn", "hypercorn", "granian"):
        command = ServerOptions(server=server, python="/opt/py/bin/python").command(3, 8000)
        assert command[:3] == ["/opt/py/bin/python", "-m", server]


@pytest.mark.parametrize(
    ("python", "words"),
    [
        (PythonData("3.12.1", "p", False, None), "GIL: always on (Python < 3.13)"),
        (PythonData("3.13.0", "p", False, True), "GIL: on (sys._is_gil_enabled())"),
        (PythonData("3.14.0", "p", True, False), "GIL: off (free-threaded build)"),
        (PythonData("3.14.0", "p", True, True), "GIL: on (a free-threaded build that turned"),
    ],
)
def test_the_gil_in_words(python: PythonData, words: str) -> None:
    assert python.gil_words.startswith(words)
    assert PythonData.from_json(python.to_json()) == python


def trial(cores_used: float, alone: float, together: float) -> Trial:
    # CPU per request together: the wall time two requests took side by side on two cores.
    return Trial(alone, together, cores_used, 2.0, alone, alone)


def test_with_the_gil_threads_are_held_to_one_core_and_without_to_every_free_one() -> None:
    turns = [trial(1.0, 0.2, 0.4)] * 3  # one core busy, two requests take twice as long
    side_by_side = [trial(1.98, 0.2, 0.2)] * 3  # two cores busy, two take as long as one
    assert all(v.passed for v in taking_turns("1 worker", turns, 2))
    assert not any(v.passed for v in taking_turns("1 worker", side_by_side, 2))
    assert all(v.passed for v in in_parallel("1 worker", side_by_side, 2, "on threads"))
    assert not any(v.passed for v in in_parallel("1 worker", turns, 2, "on threads"))


def other_python(version: str) -> Path | None:
    """pyenv's `version` (3.12), found as the noxfile finds it: `pyenv root`/versions."""
    pyenv = shutil.which("pyenv")
    root = os.environ.get("PYENV_ROOT")
    if pyenv:
        done = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
        root = done.stdout.strip() or root
    if not root:
        return None
    for python in sorted(Path(root).glob(f"versions/{version}.*/bin/python3")):
        ask = [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
        done = subprocess.run(ask, capture_output=True, text=True, check=False)
        if done.stdout.strip() == version:
            return python
    return None


#: The other Python the servers are run on: pyenv's 3.12, or 3.13 in the matrix's 3.12 session.
OTHER = "3.13" if sys.version_info[:2] == (3, 12) else "3.12"


@pytest.fixture(scope="module")
def other() -> str:
    """Another Python (`OTHER`) with asgi-lab (this checkout) installed: nox's session venv of
    that version when there is one, else a venv of our own, kept between runs."""
    nox_venv = ROOT / ".nox" / f"tests-{OTHER.replace('.', '-')}" / "bin" / "python"
    if nox_venv.exists():
        try:
            return check(str(nox_venv)).executable
        except InterpreterError:
            pass  # an old or broken session venv: use our own
    return str(own_venv(OTHER))


def own_venv(version: str) -> Path:
    """A venv of pyenv's `version` with this checkout installed (editable, so it follows the
    code), made once per pyproject.toml (the dependencies) in the gitignored `.cache/`: making
    one is a venv and pip, 20 to 60 s, and xdist workers may ask at once, so one makes it."""
    base = other_python(version)
    if base is None:
        pytest.fail(f"no Python {version} in pyenv (`pyenv root`/versions/{version}.*)")
    pins = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:12]
    venv = ROOT / ".cache" / f"py{version}-{pins}"
    python = venv / "bin" / "python"
    venv.parent.mkdir(exist_ok=True)
    with open(venv.parent / f"py{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if (venv / "ready").exists():
            try:
                check(str(python))
                return python
            except InterpreterError:
                pass  # broken since: make it again
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([str(base), "-m", "venv", str(venv)], check=True, timeout=120)
        # No bytecode up front (a third of pip's time): the servers compile what they import.
        install = [str(python), "-m", "pip", "install", "--quiet", "--no-compile"]
        subprocess.run(
            [*install, "-e", f"{ROOT}[lab]"], check=True, timeout=240, capture_output=True
        )
        (venv / "ready").touch()
    return python


@pytest.mark.server
@pytest.mark.timeout(400)
def test_a_server_runs_on_another_python_and_its_worker_says_so(other: str) -> None:
    told = check(other)
    assert told.version.startswith(f"{OTHER}.")
    # No sys._is_gil_enabled before 3.13; on 3.13 (a build with the GIL) it says True.
    assert told.gil is (None if OTHER == "3.12" else True)
    options = ServerOptions(app="asgi_lab.raw:app", python=other)
    with serving.start(options) as server:
        worker = worker_python(server.url)
        with open(f"/proc/{server.worker_pids[0]}/cmdline", "rb") as cmdline:
            argv0 = cmdline.read().split(b"\0")[0].decode()
    assert worker.version == told.version
    assert worker.gil == told.gil and worker.gil_words == told.gil_words
    assert argv0 == other
    assert worker.version != platform.python_version()


@pytest.mark.server
@pytest.mark.timeout(400)
def test_an_experiment_runs_every_server_on_the_python_given(other: str) -> None:
    def run(ctx: Context) -> None:
        with ctx.server("one") as server:
            ctx.fact("worker", worker_python(server.url).version)

    told = check(other)
    result = run_experiment(Experiment("py", "its servers' Python", "none", run), python=told)
    assert result.error is None
    facts = dict(result.facts)
    assert facts["worker"] == told.version
    assert facts["servers' Python"] == f"{told.version} at {other}"
    assert facts["servers' GIL at start"] == told.gil_words
    assert result.as_dict()["python"]["version"] == told.version
