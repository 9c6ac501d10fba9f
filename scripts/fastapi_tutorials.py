"""Run FastAPI's own tutorial tests on asgi_lab.framework, and on FastAPI, and count the passes.

FastAPI's sdist ships `tests/` and `docs_src/`. This script unpacks them into a throwaway folder
outside the repository, writes a stand-in `fastapi` package there that re-exports
asgi_lab.framework (and Starlette where FastAPI only re-exports Starlette), and runs each topic's
tests twice: once with the stand-in first on PYTHONPATH, once with the real FastAPI installed in
the venv. Tests of `/openapi.json` and the docs pages are deselected: the wrapper has no OpenAPI.
Nothing of FastAPI's is written into the repository.

    .venv/bin/pip download --no-deps --no-binary :all: "fastapi==0.165.*" -d /tmp/fastapi-sdist
    .venv/bin/pip install --target /tmp/fastapi-tutorials/deps inline-snapshot dirty-equals
    .venv/bin/python scripts/fastapi_tutorials.py /tmp/fastapi-sdist/fastapi-0.165.0.tar.gz
"""

import argparse
import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CORE = [
    "body",
    "body_fields",
    "body_multiple_params",
    "body_nested_models",
    "body_updates",
    "cookie_param_models",
    "cookie_params",
    "dependencies",
    "handling_errors",
    "header_param_models",
    "header_params",
    "path_params",
    "path_params_numeric_validations",
    "query_param_models",
    "query_params",
    "query_params_str_validations",
]
MORE = [
    "background_tasks",
    "bigger_applications",
    "custom_response",
    "encoder",
    "events",
    "extra_models",
    "middleware",
    "path_operation_configurations",
    "response_change_status_code",
    "response_cookies",
    "response_directly",
    "response_headers",
    "response_model",
    "response_status_code",
    "stream_data",
    "testing",
    "testing_dependencies",
    "using_request_directly",
]

# fastapi's modules, as the stand-in provides them: ours where we have one, else Starlette's.
STAND_IN = {
    "__init__": "from asgi_lab.framework import *  # noqa: F403\n"
    "from asgi_lab.framework import __all__  # noqa: F401\n",
    "responses": "from starlette.responses import *  # noqa: F403\n",
    "requests": "from starlette.requests import *  # noqa: F403\n",
    "testclient": "from starlette.testclient import *  # noqa: F403\n",
    "staticfiles": "from starlette.staticfiles import *  # noqa: F403\n",
    "background": "from starlette.background import *  # noqa: F403\n",
    "concurrency": "from starlette.concurrency import *  # noqa: F403\n",
    "encoders": "from asgi_lab.framework.encode import jsonable_encoder  # noqa: F401\n",
    "routing": "from asgi_lab.framework.routing import *  # noqa: F403\n",
    "exceptions": "from asgi_lab.framework.errors import *  # noqa: F403\n",
    "_compat": "import pydantic\n\n"
    "PYDANTIC_VERSION_MINOR_TUPLE = tuple(int(p) for p in pydantic.VERSION.split('.')[:2])\n",
    "exception_handlers": "from asgi_lab.framework.errors import *  # noqa: F403\n",
    "middleware/__init__": "from starlette.middleware import *  # noqa: F403\n",
    "middleware/cors": "from starlette.middleware.cors import *  # noqa: F403\n",
    "middleware/gzip": "from starlette.middleware.gzip import *  # noqa: F403\n",
    "middleware/trustedhost": "from starlette.middleware.trustedhost import *  # noqa: F403\n",
    "middleware/httpsredirect": "from starlette.middleware.httpsredirect import *  # noqa: F403\n",
}


def unpack(sdist: Path, work: Path) -> Path:
    """tests/ and docs_src/ of the sdist under work/src, without FastAPI's own package."""
    src = work / "src"
    if not src.exists():
        with tarfile.open(sdist) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if len(parts) > 1 and parts[1] in ("tests", "docs_src", "pyproject.toml"):
                    member.name = str(Path(*parts[1:]))
                    tar.extract(member, src, filter="data")
    return src


def write_stand_in(work: Path) -> Path:
    root = work / "standin"
    for name, text in STAND_IN.items():
        path = root / "fastapi" / f"{name}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def run(src: Path, paths: list[str], pythonpath: list[Path], log: Path) -> tuple[int, int]:
    """(passed, collected) for the topics' tests, OpenAPI and docs tests deselected."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in pythonpath))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["--continue-on-collection-errors", "-rA"]
    # Starlette's TestClient asks for httpx2 in a warning, which FastAPI's config makes fatal.
    command += ["-W", "ignore:Using `httpx` with `starlette.testclient` is deprecated:Warning"]
    # pytest-xdist's marker, which the tests use and we do not install.
    command += ["-o", "markers=xdist_group: tests that share the working directory"]
    command += ["-k", "not openapi and not docs and not swagger and not redoc", *paths]
    done = subprocess.run(command, cwd=src, env=env, capture_output=True, text=True)
    log.write_text(done.stdout + done.stderr)
    lines = done.stdout.splitlines()
    passed = sum(line.startswith("PASSED ") for line in lines)
    return passed, passed + sum(line.startswith(("FAILED ", "ERROR ")) for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sdist", type=Path, help="fastapi-0.165.*.tar.gz from pip download")
    parser.add_argument("--work", type=Path, default=Path("/tmp/fastapi-tutorials"))
    parser.add_argument("--topics", nargs="*", help="only these topics (folder names)")
    args = parser.parse_args()
    work = args.work.resolve()
    if work.is_relative_to(REPO):
        parser.error(f"--work {work} must be outside the repository {REPO}.")
    src = unpack(args.sdist, work)
    stand_in = write_stand_in(work)
    deps = work / "deps"  # inline-snapshot and dirty-equals, which FastAPI's tests import
    groups = {"core": CORE, "more": MORE}
    for group, topics in groups.items():
        topics = [t for t in topics if not args.topics or t in args.topics]
        paths = [f"tests/test_tutorial/test_{t}" for t in topics]
        paths = [p for p in paths if (src / p).exists()]
        if not paths:
            continue
        results: dict[str, tuple[int, int]] = {}
        for label, pythonpath in (
            ("asgi_lab", [stand_in, REPO, src, deps]),
            ("fastapi", [src, deps]),
        ):
            log = work / f"{group}-{label}.log"
            passed, total = run(src, paths, pythonpath, log)
            # A module that fails to import is one error for all its tests: FastAPI's count of
            # the same tests is the fair denominator for both.
            results[label] = (passed, total)
        total = results["fastapi"][1]
        for label, (passed, _) in results.items():
            share = 100 * passed / max(total, 1)
            log = work / f"{group}-{label}.log"
            print(f"{group:5} {label:9} {passed:4}/{total:<4} {share:5.1f} %  ({log})")


if __name__ == "__main__":
    main()
