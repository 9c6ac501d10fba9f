"""Every module says what it exports (`__all__`), each exported name exists, and each package
exports exactly the names it means to: httpx's habit."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

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


#: Every package's public names, exactly: a name joins or leaves a package on purpose, here.
PACKAGES: dict[str, set[str]] = {
    "asgi_lab": {"__version__"},
    "asgi_lab.probe": {
        "LOGGER",
        "SCOPE_KEY",
        "Hop",
        "JsonLines",
        "LogLines",
        "LoopInfo",
        "ProbeMiddleware",
        "Record",
        "RecordRing",
        "RecordWriter",
        "Sink",
        "compiled",
        "current_loop",
        "current_record",
        "current_thread",
        "hooked",
        "install",
        "served_by",
        "uninstall",
    },
    "asgi_lab.records": {
        "CANCELLED",
        "HEADER",
        "STILL_RUNNING",
        "BlockData",
        "FrameData",
        "HandlerData",
        "HeaderData",
        "HopData",
        "JsonLines",
        "LineShareData",
        "LoopData",
        "PoolData",
        "RecordData",
        "RecordsError",
        "ServedBy",
        "ThreadData",
        "ThreadpoolData",
        "Trace",
        "WaitData",
        "WaitsData",
        "file_name",
        "json_line",
        "read_records",
        "read_stalls",
        "read_trace",
        "request_id",
        "short_path",
        "split_waits",
        "write_stalls",
    },
    "asgi_lab.testing": {
        "Endpoint",
        "Lifespan",
        "LifespanError",
        "ProbeClient",
        "Probed",
        "ProbedClient",
        "assert_in_threadpool",
        "assert_max_tokens",
        "assert_no_loop_block",
        "assert_on_loop",
        "assert_same_thread",
        "endpoint_of",
        "loop_blocks",
        "peak_tokens",
    },
    "asgi_lab.timeline": {
        "HopBar",
        "Lane",
        "PoolCurve",
        "RequestBar",
        "Series",
        "Timeline",
        "Worker",
        "build",
        "html",
        "perfetto",
        "svg",
        "terminal",
    },
    "asgi_lab.trace": set(),
    "asgi_lab.live": {"Board", "Live", "feeding", "loopback", "open_live"},
    "asgi_lab.lab": set(),
    "asgi_lab.lab.apps": set(),
    "asgi_lab.lab.experiments": {"EXPERIMENTS", "ON_DEMAND", "REGISTRY"},
    "asgi_lab.framework": {
        "APIRouter",
        "BackgroundTasks",
        "Body",
        "Cookie",
        "Depends",
        "FastAPI",
        "HTTPException",
        "Header",
        "JSONResponse",
        "Path",
        "Query",
        "Request",
        "Response",
        "jsonable_encoder",
        "status",
    },
}


def test_every_package_has_its_intended_names_listed() -> None:
    # A new package must say here what it exports.
    packages = {"asgi_lab"} | {
        info.name for info in pkgutil.walk_packages(asgi_lab.__path__, "asgi_lab.") if info.ispkg
    }
    assert packages == set(PACKAGES)


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_a_package_exports_exactly_its_intended_names(name: str) -> None:
    package = importlib.import_module(name)
    assert sorted(package.__all__) == sorted(PACKAGES[name])
    # And nothing of ours is public there unlisted: a class or function of asgi_lab that the
    # package holds is exported, or held under a private name.
    unlisted = sorted(
        attribute
        for attribute, value in vars(package).items()
        if not attribute.startswith("_")
        and attribute not in package.__all__
        and not isinstance(value, ModuleType)  # its submodules, bound by importing them
        and str(getattr(value, "__module__", "")).startswith("asgi_lab")
    )
    assert not unlisted, f"{name} holds public names it does not export: {unlisted}"
