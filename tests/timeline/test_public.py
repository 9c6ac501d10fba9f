"""The timeline package exports what it means to, imports neither the lab nor the CLI, and the
probe never imports rich."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

MODULES = [
    "asgi_lab.timeline",
    "asgi_lab.timeline.model",
    "asgi_lab.timeline.terminal",
    "asgi_lab.timeline.svg",
    "asgi_lab.timeline.html",
    "asgi_lab.timeline.perfetto",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(exported) == len(set(exported))
    assert all(hasattr(module, n) for n in exported)


def test_the_package_exports_the_model_and_its_views() -> None:
    import asgi_lab.timeline as timeline

    assert sorted(timeline.__all__) == sorted(
        ["HopBar", "Lane", "PoolCurve", "RequestBar", "Series", "Timeline", "Worker", "build"]
        + ["html", "perfetto", "svg", "terminal"]
    )


def test_arrows_point_down() -> None:
    code = (
        "import sys; import asgi_lab.timeline; "
        "print(sorted(m for m in sys.modules if m.startswith(('asgi_lab.lab', 'asgi_lab.cli'))));"
        "import asgi_lab.probe, asgi_lab.records.schema; "
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
    probe = "import sys, asgi_lab.probe, asgi_lab.routes; print('rich' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False", "the probe (and the layers) must not pull in rich"
