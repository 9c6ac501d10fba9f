"""`asgi-lab experiment` and `asgi-lab tour`: help, listing, errors, JSON output, exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from asgi_lab import __version__, probe
from asgi_lab.cli import main
from asgi_lab.lab import runner
from asgi_lab.lab.experiments import EXPERIMENTS, ON_DEMAND, REGISTRY
from asgi_lab.lab.experiments.workers import WORKERS
from asgi_lab.lab.harness import Experiment, Result
from asgi_lab.lab.verdicts import exactly

from .fakes import assert_no_orphans


@pytest.mark.parametrize("argv", [[], ["serve"], ["experiment"], ["tour"], ["report"]])
def test_every_command_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main([*argv, "--help"])
    assert exit.value.code == 0
    assert "usage: asgi-lab" in capsys.readouterr().out


def test_list_names_every_experiment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiment", "--list"]) == 0
    out = capsys.readouterr().out
    for name, exp in REGISTRY.items():
        assert name in out
        assert exp.title in out


def test_list_marks_the_experiments_the_tour_leaves_out(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiment", "--list"]) == 0
    rows = {line.split()[0]: line.split()[1:3] for line in capsys.readouterr().out.splitlines()}
    assert ON_DEMAND, "the classic figures at full size run only by name"
    for exp in ON_DEMAND:
        assert rows[exp.name] == [f"{exp.scale:g}", "-"]
    for exp in EXPERIMENTS:
        assert rows[exp.name] == [f"{exp.scale:g}", f"{exp.tour_scale:g}"]


def test_the_tour_runs_its_experiments_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[tuple[str, float | None]] = []

    def fake(exp: Experiment, *, scale: float | None = None, **_: object) -> Result:
        ran.append((exp.name, scale))
        result = Result(exp.name, exp.title, scale or exp.scale, "raw")
        result.verdicts.append(exactly("ran", 1, 1))
        return result

    monkeypatch.setattr(runner, "run_experiment", fake)
    assert runner.run_tour(quiet=True) == 0
    assert ran == [(e.name, e.tour_scale) for e in EXPERIMENTS]
    assert f"{len(EXPERIMENTS)}/{len(EXPERIMENTS)} experiments passed" in capsys.readouterr().out


def test_unknown_experiment_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiment", "no-such-thing"]) == 2
    err = capsys.readouterr().err
    assert "'no-such-thing'" in err and "clients" in err


def test_missing_name_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiment"]) == 2
    assert "--list" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["0", "-1", "x", "1000"])
def test_bad_scale_is_refused(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["experiment", "clients", "--scale", bad])
    assert exit.value.code == 2
    assert f"got {bad!r}" in capsys.readouterr().err


def test_module_entry_point_prints_the_version_and_the_probes_build() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "asgi_lab", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    build = "compiled by mypyc" if probe.compiled else "pure Python"
    assert done.stdout.strip() == f"asgi-lab {__version__} (probe: {build})"


@pytest.mark.server
def test_experiment_writes_json_with_every_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "out.json"
    code = main(["experiment", "workers", "--scale", "0.3", "--json", str(path)])
    captured = capsys.readouterr()
    assert "== workers" in captured.out
    assert "[workers" in captured.err, "progress goes to stderr"

    data = json.loads(path.read_text())
    assert data["host"]["cores"] >= 1
    (result,) = data["results"]
    assert result["name"] == "workers" and result["verdicts"], result.get("error")
    # The JSON says what the report and the exit status say. (Whether the timing verdicts pass
    # on a busy machine is the experiment tests' business, not this one's.)
    passed = all(v["passed"] for v in result["verdicts"])
    assert result["passed"] == passed and (code == 0) == passed, captured.out
    assert ("=> PASS" if passed else "=> FAIL") in captured.out
    (server,) = result["servers"]
    # Records of every worker came back, gathered after the server stopped.
    assert {o["record"]["pid"] for o in result["records"]} == set(server["worker_pids"])
    assert len(server["worker_pids"]) == WORKERS
    assert result["served"]
    assert_no_orphans([server["pid"], *server["worker_pids"]])


def test_report_needs_a_directory_with_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "no records in" in capsys.readouterr().err


def test_report_prints_the_timeline_and_writes_html_and_perfetto(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from .fakes import record

    lines = [
        record("7-1", pid=7, loop_thread=7, handler=8, path="/sync/sleep", hops=[(0, 0.001)]),
        record("7-2", pid=7, loop_thread=7, path="/quick", start=0.001, end=0.002),
    ]
    (tmp_path / "records-7.jsonl").write_text(
        "".join(json.dumps(r.to_json()) + "\n" for r in lines), encoding="utf-8"
    )
    html, trace = tmp_path / "t.html", tmp_path / "t.json"
    assert main(["report", str(tmp_path), "--html", str(html), "--perfetto", str(trace)]) == 0
    out = capsys.readouterr().out
    assert "loop 7:1 (uvloop)" in out and "thread 8" in out and "time (ms)" in out
    page = html.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and 'data-lane="7:8"' in page
    assert "<script src" not in page and "<link" not in page, "self-contained"
    events = json.loads(trace.read_text(encoding="utf-8"))["traceEvents"]
    assert {e["ph"] for e in events} >= {"M", "X", "b", "e", "s", "f", "C"}
