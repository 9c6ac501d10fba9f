"""Run the shop's tests (docs/examples/testing/) and print each result, with the sentence each
failure says; exit 0 when exactly the mistakes fail."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest
from rich.padding import Padding
from rich.text import Text

HERE = Path(__file__).resolve().parent / "testing"
PLUGIN = "asgi_lab.testing.plugin"
#: The tests that meet a mistake; every other one meets a fixed twin and must pass.
MISTAKES = {
    "test_the_session_stays_on_one_thread[/items-get_db-read_items]",
    "test_the_report_does_not_block_the_loop[/report]",
    "test_the_report_runs_in_the_threadpool[/report]",
    "test_no_page_blocks_the_loop[/report]",
    "test_prices_take_few_tokens[/prices]",
}


class Show:
    """A pytest plugin printing one line per test, and the failure's message under it."""

    def __init__(self) -> None:
        self.failed: set[str] = set()
        self.passed: set[str] = set()

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        # Our lines instead of pytest's report. Its plugin stays loaded (`-p no:terminal` would
        # unload it): other plugins, inline-snapshot's for one, read the options it adds.
        config.pluginmanager.unregister(name="terminalreporter")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and not report.failed:
            return
        name = report.nodeid.split("::")[-1]
        # Not imported before pytest has loaded asgi_lab's plugin, which it rewrites for asserts.
        from asgi_lab.console import plain, width

        if report.failed:
            self.failed.add(name)
            message = getattr(getattr(report.longrepr, "reprcrash", None), "message", "")
            print(f"FAIL  {name}")
            print(plain(Padding(Text(message), (0, 0, 0, 6)), columns=width()))
        else:
            self.passed.add(name)
            print(f"pass  {name}")


def main() -> int:
    installed = any(ep.value == PLUGIN for ep in importlib.metadata.entry_points(group="pytest11"))
    show = Show()
    # No -ra summary from the project's addopts: our own lines instead.
    args = [
        str(HERE),
        "-o",
        "addopts=--strict-markers",
        "-p",
        "no:cacheprovider",
    ]
    pytest.main(args if installed else [*args, "-p", PLUGIN], plugins=[show])
    print(f"{len(show.failed)} failed (the mistakes), {len(show.passed)} passed (their twins)")
    return 0 if show.failed == MISTAKES and show.passed else 1


if __name__ == "__main__":
    sys.exit(main())
