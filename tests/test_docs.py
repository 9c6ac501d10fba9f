"""The docs cannot rot: included code matches its file, and every example runs."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS))

import generate  # noqa: E402

from asgi_lab.console import WIDTH  # noqa: E402
from asgi_lab.lab.experiments import REGISTRY  # noqa: E402
from tests.test_book_examples import READ_BACK  # noqa: E402
from tests.timeline.test_browser import browser  # noqa: E402

EXAMPLES = sorted(p for p in (DOCS / "examples").glob("*.py") if p.name != "show.py")
#: Examples run by a test of their own that asks more of them, so not run again by
#: `test_example_runs`: the testing tour (which judges timings, a 50 ms loop block, so it is in
#: the serial lane) by `test_the_testing_tour_runs_beside_other_pytest_plugins`.
OWN_TEST = {"testing_tour.py"}


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_included_code_matches_its_file(page: Path) -> None:
    text = page.read_text()
    assert generate.refresh(text, None) == text, f"run scripts/docs {page.name}"


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_every_output_block_was_generated(page: Path) -> None:
    for match in generate.BLOCK.finditer(page.read_text()):
        if match["kind"] == "output":
            assert match["body"].startswith(f"```text\n$ {match['arg']}\n"), match["arg"]


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_output_blocks_fit_in_100_columns(page: Path) -> None:
    """What the lab prints is what the pages show: no line of it wider than `console.WIDTH`."""
    for match in generate.BLOCK.finditer(page.read_text(encoding="utf-8")):
        if match["kind"] != "output":
            continue
        wide = [line for line in match["body"].splitlines() if len(line) > WIDTH]
        assert not wide, f"{match['arg']}: {len(wide)} lines over {WIDTH} columns: {wide[0]!r}"


def test_every_example_is_shown_in_a_chapter() -> None:
    commands = "".join(p.read_text() for p in DOCS.glob("*.md"))
    for example in EXAMPLES:
        assert f"python docs/examples/{example.name}" in commands, example.name


@pytest.mark.server
@pytest.mark.parametrize(
    "example",
    [p for p in EXAMPLES if p.name not in OWN_TEST and p.name not in READ_BACK],
    ids=lambda p: p.name,
)
def test_example_runs(example: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(example)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


@pytest.mark.server
@pytest.mark.serial
def test_the_testing_tour_runs_beside_other_pytest_plugins() -> None:
    """A user's pytest loads plugins of their own: inline-snapshot's (FastAPI's suite has it)
    reads the terminal plugin's options at the end of the session, which `-p no:terminal`
    took away (`no option named 'color'`). It is also the tour's only run in the suite: exit 0
    (exactly the mistakes failed), the summary line, and no traceback."""
    plugins = {ep.name for ep in importlib.metadata.entry_points(group="pytest11")}
    assert "inline_snapshot" in plugins, "the dev extra installs inline-snapshot"
    done = subprocess.run(
        [sys.executable, str(DOCS / "examples" / "testing_tour.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert re.search(r"^5 failed \(the mistakes\), \d+ passed", done.stdout, re.M), done.stdout


#: How a page marks figures it could not regenerate (a benchmark, or runs of an app that changed).
TYPED_IN = re.compile(
    r"\*Typed in, not generated:\*(?P<note>.*?`(?P<command>[^`]+)`.*?(?P<date>\d{4}-\d{2}-\d{2}))",
    re.S,
)


def figure_tables(text: str) -> list[tuple[int, str]]:
    """Markdown tables outside generated blocks with a measured figure in a cell (a cell that
    starts with a digit): (the line the table starts on, the text before it)."""
    text = generate.BLOCK.sub(lambda m: m["open"] + "\n" * m["body"].count("\n") + m["close"], text)
    lines = text.splitlines()
    found: list[tuple[int, str]] = []
    for number, line in enumerate(lines):
        if not line.startswith("| ") or (number and lines[number - 1].startswith("|")):
            continue
        rows = [lines[number]]
        while number + len(rows) < len(lines) and lines[number + len(rows)].startswith("|"):
            rows.append(lines[number + len(rows)])
        if "default" in rows[0]:  # a table of settings, not of measurements
            continue
        cells = [c.strip() for row in rows[2:] for c in row.strip("|").split("|")]
        if any(c[:1].isdigit() for c in cells):
            found.append((number + 1, "\n".join(lines[max(0, number - 12) : number])))
    return found


def test_figure_tables_are_generated_or_say_they_are_typed_in() -> None:
    """Numbers come from real runs (`scripts/docs`); a table of them that the generator cannot
    refresh says so just before it, with the command that made it and the date."""
    for page in sorted(DOCS.glob("*.md")):
        for line, before in figure_tables(page.read_text(encoding="utf-8")):
            assert TYPED_IN.search(before), f"{page.name}:{line}: a typed-in table not marked"


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_a_typed_in_note_names_our_command_and_its_date(page: Path) -> None:
    for note in TYPED_IN.finditer(page.read_text(encoding="utf-8")):
        assert len(note["note"]) < 400, f"{page.name}: a typed-in note without its command/date"
        generate.command_line(note["command"])  # one of the commands the generator would run
        assert "2026-01-01" <= note["date"], note["date"]


def test_an_unmarked_figure_table_is_found() -> None:
    table = "| x | req/s |\n| --- | ---: |\n| none | 11,480 |\n"
    assert [line for line, _ in figure_tables("intro\n\n" + table)] == [3]
    assert figure_tables("| variable | default |\n| --- | --- |\n| A | 4 |\n") == []
    assert figure_tables("| kind | where |\n| --- | --- |\n| def | a thread |\n") == []
    generated = "<!-- output: asgi-lab experiment gil -->\n" + table + "<!-- /output -->\n"
    assert figure_tables(generated) == []
    marked = "*Typed in, not generated:* `python bench/middleware.py` on 2026-11-22:\n\n" + table
    (only,) = figure_tables(marked)
    assert TYPED_IN.search(only[1])


def test_include_names_a_function_class_or_variable() -> None:
    assert generate.include("asgi_lab/raw.py::app").startswith("```python\n#: What")
    with pytest.raises(LookupError, match="no top-level 'nothing'"):
        generate.include("asgi_lab/raw.py::nothing")


def test_links_between_chapters_resolve() -> None:
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+\.md)\)", page.read_text()):
            assert (DOCS / target).exists(), f"{page.name} links to missing {target}"


def test_refresh_replaces_only_marked_blocks_and_reports_failures() -> None:
    text = (
        "intro\n"
        "<!-- output: asgi-lab experiment clients -->\nold output\n<!-- /output -->\n"
        "middle\n"
        "<!-- output: python bench/clients.py -->\n<!-- /output -->\n"
        "end\n"
    )
    seen: list[str] = []

    def runner(command: str) -> tuple[int, str]:
        seen.append(command)
        return (1 if command.startswith("asgi-lab") else 0), f"ran {command}\n"

    failed: list[str] = []
    out = generate.refresh(text, runner, failed=failed)
    assert seen == ["asgi-lab experiment clients", "python bench/clients.py"]
    assert "old output" not in out
    assert "```text\n$ asgi-lab experiment clients\nran asgi-lab experiment clients\n```\n" in out
    assert out.startswith("intro\n") and "\nmiddle\n" in out and out.endswith("end\n")
    assert failed == ["asgi-lab experiment clients (exit 1)"]
    assert generate.refresh(out, runner) == out  # the markers survive


def test_only_reruns_the_outputs_it_names_and_keeps_the_rest() -> None:
    """A page that quotes a benchmark can be refreshed around it: `--only` reruns the named
    outputs, keeps every other output byte for byte, and still re-reads the includes."""
    text = (
        "<!-- include: asgi_lab/raw.py::app -->\nstale code\n<!-- /include -->\n"
        "<!-- output: python bench/clients.py -->\nthe benchmark's run\n<!-- /output -->\n"
        "<!-- output: python docs/examples/client_sessions.py -->\nold\n<!-- /output -->\n"
    )
    seen: list[str] = []

    def runner(command: str) -> tuple[int, str]:
        seen.append(command)
        return 0, "new\n"

    out = generate.refresh(text, runner, only="client_sessions")
    assert seen == ["python docs/examples/client_sessions.py"]
    assert "<!-- output: python bench/clients.py -->\nthe benchmark's run\n<!-- /output -->" in out
    assert "$ python docs/examples/client_sessions.py\nnew\n```" in out
    assert "stale code" not in out and generate.include("asgi_lab/raw.py::app") in out
    assert generate.refresh(text, runner, only="nothing by that name") == (
        text.replace("stale code\n", generate.include("asgi_lab/raw.py::app"))
    )
    assert len(seen) == 1


def test_only_our_own_commands_run() -> None:
    python = sys.executable
    assert generate.command_line("asgi-lab experiment gil") == [
        python, "-m", "asgi_lab", "experiment", "gil"
    ]  # fmt: skip
    assert generate.command_line("python bench/clients.py") == [python, "bench/clients.py"]
    assert generate.command_line("python docs/examples/raw_tour.py") == [
        python, "docs/examples/raw_tour.py"
    ]  # fmt: skip
    for bad in ("rm -rf /", "python -c 'print(1)'", "python -m pip list", "python setup.py"):
        with pytest.raises(ValueError, match="a docs command must be"):
            generate.command_line(bad)


def test_a_run_on_another_layer_or_server_draws_a_picture_of_its_own() -> None:
    """Chapter 16 shows chapter 4's experiment on granian: not over chapter 4's picture."""
    img = DOCS / "img"
    assert generate.picture("asgi-lab experiment workers") == img / "workers.svg"
    assert generate.picture("asgi-lab experiment workers --server uvicorn") == img / "workers.svg"
    assert generate.picture("asgi-lab experiment workers --server granian") == (
        img / "workers-granian.svg"
    )
    assert generate.picture("asgi-lab experiment gil --layer api --server hypercorn") == (
        img / "gil-api-hypercorn.svg"
    )
    assert generate.picture("python docs/examples/servers_tour.py") is None


def test_every_experiment_has_passing_output_in_its_chapter() -> None:
    chapters = {p.stem: p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("[0-9][0-9]-*.md"))}
    assert {exp.chapter for exp in REGISTRY.values()} <= set(chapters)
    for exp in REGISTRY.values():
        commands = [m["arg"].strip() for m in generate.BLOCK.finditer(chapters[exp.chapter])]
        # A chapter may show it on a chosen layer (`--layer api`) rather than the default one.
        shown = [c.split()[:3] for c in commands]
        assert ["asgi-lab", "experiment", exp.name] in shown, exp.name
    for text in chapters.values():
        for block in generate.BLOCK.finditer(text):
            if block["kind"] == "output" and block["arg"].startswith("asgi-lab experiment"):
                assert "=> PASS" in block["body"], f"{block['arg']}: committed output should pass"


def test_every_experiment_in_a_chapter_shows_its_timeline_picture() -> None:
    """Each experiment's output is followed by the SVG timeline the same run drew."""
    for page in sorted(DOCS.glob("[0-9][0-9]-*.md")):
        text = page.read_text(encoding="utf-8")
        for block in generate.BLOCK.finditer(text):
            drawing = generate.picture(block["arg"].strip())
            if block["kind"] != "output" or drawing is None:
                continue
            if "served by (from the probe records" not in block["body"]:
                # A run that kept no record (hypercorn stopping on a killed worker) draws an
                # empty frame: the chapter says so instead of showing it.
                assert f"](img/{drawing.name})" not in text, f"{drawing.name} draws nothing"
                continue
            assert f"](img/{drawing.name})" in text, f"{page.name} shows no {drawing.name}"
            assert drawing.exists(), f"run scripts/docs {page.name}: {drawing.name} is missing"
            root = ElementTree.parse(drawing).getroot()
            lanes = [el for el in root.iter() if "data-lane" in el.attrib]
            assert root.tag.endswith("svg") and lanes, f"{drawing.name} draws no lane"


def test_every_live_block_shows_the_picture_it_shot() -> None:
    """Each live block's body is its picture, said in words, and the picture is a real shot."""
    shots = 0
    for page in sorted(DOCS.glob("*.md")):
        for block in generate.BLOCK.finditer(page.read_text(encoding="utf-8")):
            if block["kind"] != "live":
                continue
            head, _, command = block["arg"].partition(":")
            name = head.split()[0]
            expected = re.compile(
                rf"!\[The live page during {re.escape(command.strip())}: worker \d+ \(live\)"
                rf"[^\]]*\]\(img/live-{re.escape(name)}\.png\)\n"
            )
            assert expected.fullmatch(block["body"]), f"run scripts/docs {page.name}"
            with Image.open(DOCS / "img" / f"live-{name}.png") as image:
                assert image.format == "PNG" and image.width >= 1000
                assert len(image.convert("RGB").getcolors(maxcolors=1 << 20) or ()) > 20
            shots += 1
    assert shots >= 2  # the threadpool's and the workers' chapters


def test_refresh_only_one_kind_keeps_the_other_blocks_as_they_are() -> None:
    text = (
        "<!-- output: asgi-lab experiment clients -->\nold output\n<!-- /output -->\n"
        "<!-- live: x full-pool: asgi-lab experiment threadpool-limit -->\n"
        "old shot\n<!-- /live -->\n"
    )
    shot: list[str] = []

    def shooter(spec: str) -> tuple[int, str]:
        shot.append(spec)
        return 0, "![new](img/live-x.png)\n"

    def runner(command: str) -> tuple[int, str]:
        raise AssertionError(f"ran {command}")

    out = generate.refresh(text, runner, shooter=shooter, kind="live")
    assert shot == ["x full-pool: asgi-lab experiment threadpool-limit"]
    assert "old output" in out and "old shot" not in out and "![new](img/live-x.png)\n" in out


@pytest.mark.server
@pytest.mark.serial  # the experiment it shoots judges timings: it must pass to be shot
def test_a_live_block_shoots_the_page_once_it_shows_what_it_waits_for(tmp_path: Path) -> None:
    browser()
    # The box is shared (a browser draws beside it): a run whose verdicts fail is shot once more,
    # as the experiment tests run theirs (its report, on stderr, says which failed).
    for attempt in (1, 2):
        status, body = generate.shoot(
            "t full-pool: asgi-lab experiment threadpool-limit --scale 0.6", img=tmp_path
        )
        if status == 0:
            break
        assert attempt == 1, "the experiment failed twice"
    # threadpool-limit's first phase: 8 sleeps on 4 tokens, 4 running and 4 waiting.
    assert "8 requests in flight, anyio threads 4/4 busy and 4 queued" in body
    with Image.open(tmp_path / "live-t.png") as image:
        assert image.format == "PNG"
