"""Refresh the generated parts of the docs: code from the real files, output from real runs.

    python docs/generate.py            # rewrite every block (runs the commands)
    python docs/generate.py --check    # fail if an included piece of code is stale
    python docs/generate.py --only client_sessions docs/05-clients-and-fan-out.md
                                       # rerun only the outputs whose command contains it
    python docs/generate.py --kind live docs/02-the-threadpool.md   # only its live pictures

Three kinds of block, each between an opening comment and `<!-- /include -->`, `<!-- /output -->`
or `<!-- /live -->`:

    <!-- include: asgi_lab/raw.py::lifespan -->   a top-level function, class or variable
    <!-- include: asgi_lab/raw.py:10-20 -->       a range of lines (or the whole file)
    <!-- output: asgi-lab experiment clients -->     a command, run from the project root
    <!-- live: NAME WHEN: asgi-lab experiment X --> the command run with --live, its page shot
                                                    by headless Chromium once it shows WHEN
                                                    (`WHEN_SHOWN`), into docs/img/live-NAME.png

A live block's body is the picture's Markdown, its alternative text said from what the page
showed when it was shot.

`ruff format` also formats the Python blocks of Markdown pages, and code dedented out of a class
or function may fit its lines differently than in its file: put such an include between
`<!-- fmt:off -->` and `<!-- fmt:on -->`, or the formatter and `--check` will disagree.

Only our own commands run: `asgi-lab ...`, `python -m asgi_lab...`, the examples under
`docs/examples/` and the benchmarks under `bench/`, each with this interpreter. Outputs carry
pids and timings, so only includes can be checked for staleness; the tests run every example
instead. `--only` keeps every other output as it was: a page that quotes a benchmark
(`python bench/...`) can have its other outputs refreshed without rerunning the benchmark.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BLOCK = re.compile(
    r"(?P<open><!-- (?P<kind>include|output|live): (?P<arg>.+?) -->\n)"
    r"(?P<body>.*?)"
    r"(?P<close><!-- /(?P=kind) -->)",
    re.S,
)


def names_of(node: ast.stmt) -> set[str]:
    """The names a top-level statement defines: a function, a class or assigned variables."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


def include(spec: str) -> str:
    """The code a spec names, fenced."""
    path, _, where = spec.partition(":")
    source = (ROOT / path).read_text()
    lines = source.splitlines()
    if where.startswith(":"):
        name = where[1:]
        body: list[ast.stmt] = ast.parse(source).body
        found: ast.stmt | None = None
        for part in name.split("."):  # "Class.method" looks inside the class
            found = next((node for node in body if part in names_of(node)), None)
            if found is None:
                raise LookupError(f"{path} has no top-level {name!r}")
            body = getattr(found, "body", [])
        if found is None:
            raise LookupError(f"{path}: nothing named {name!r}")
        first = min([found.lineno, *(d.lineno for d in getattr(found, "decorator_list", []))])
        # The comment lines right above belong to it.
        while first > 1 and lines[first - 2].lstrip().startswith("#"):
            first -= 1
        lines = textwrap.dedent("\n".join(lines[first - 1 : found.end_lineno])).splitlines()
    elif where:
        start, _, end = where.partition("-")
        lines = lines[int(start) - 1 : int(end or start)]
    language = "python" if path.endswith(".py") else ""
    return f"```{language}\n" + "\n".join(lines) + "\n```\n"


#: Runs a marker's command: the command as written in, (exit status, stdout) out.
Runner = Callable[[str], tuple[int, str]]


def command_line(command: str) -> list[str]:
    """The argv for a marker's command, run with this interpreter; only our own commands run."""
    words = shlex.split(command)
    if words[:1] == ["asgi-lab"]:
        return [sys.executable, "-m", "asgi_lab", *words[1:]]
    if words[:2] == ["python", "-m"] and words[2:3] and words[2].startswith("asgi_lab"):
        return [sys.executable, *words[1:]]
    if words[:1] == ["python"] and words[1:2] and words[1].startswith(("docs/examples/", "bench/")):
        return [sys.executable, *words[1:]]
    raise ValueError(
        "a docs command must be 'asgi-lab ...', 'python -m asgi_lab...', "
        f"'python docs/examples/...' or 'python bench/...', got {command!r}"
    )


def picture(command: str) -> Path | None:
    """Where an experiment's timeline picture goes: `docs/img/<name>.svg`, drawn by the same
    run that prints its output, `<name>-<layer>.svg` for a `--layer` other than raw and
    `<name>-<server>.svg` for a `--server` other than uvicorn (so a chapter showing another
    layer's or server's run keeps the first chapter's picture); None for other commands."""
    words = shlex.split(command)
    if words[:2] == ["asgi-lab", "experiment"] and len(words) >= 3:
        suffix = ""
        for option, default in (("--layer", "raw"), ("--server", "uvicorn")):
            value = words[words.index(option) + 1] if option in words[:-1] else default
            suffix += "" if value == default else f"-{value}"
        return DOCS / "img" / f"{words[2]}{suffix}.svg"
    return None


def run(command: str) -> tuple[int, str]:
    """Run a marker's command from the project root; what it printed on stdout."""
    argv = command_line(command)
    drawing = picture(command)
    if drawing is not None:
        drawing.parent.mkdir(exist_ok=True)
        argv += ["--svg", str(drawing.relative_to(ROOT))]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
    return done.returncode, done.stdout


#: What the live page's DOM says of each worker card (`asgi_lab/live/page.html`).
READ_PAGE = """JSON.stringify([...document.querySelectorAll("section.worker")].map(w => ({
  pid: +w.dataset.pid, state: w.dataset.state, stalled: w.classList.contains("stalled"),
  requests: w.querySelectorAll("tr[data-request]").length,
  pools: [...w.querySelectorAll(".pool")].map(p => ({name: p.dataset.pool, busy: +p.dataset.busy,
    size: p.dataset.size === "" ? null : +p.dataset.size, queued: +p.dataset.queued})),
})))"""


def full_pool(workers: list[dict[str, Any]]) -> bool:
    """A live worker whose anyio tokens are all busy, with requests waiting for one."""
    return any(
        p["name"] == "anyio" and p["busy"] == p["size"] and p["queued"] > 0
        for w in workers
        if w["state"] == "live"
        for p in w["pools"]
    )


def stalled_workers(n: int) -> Callable[[list[dict[str, Any]]], bool]:
    """At least `n` live workers, each with its loop stalled now."""

    def seen(workers: list[dict[str, Any]]) -> bool:
        live = [w for w in workers if w["state"] == "live"]
        return len(live) >= n and all(w["stalled"] for w in live)

    return seen


#: The moments a live block can be shot at: `full-pool`, `stalled-workers=N`.
WHEN_SHOWN: dict[str, Callable[[str], Callable[[list[dict[str, Any]]], bool]]] = {
    "full-pool": lambda _: full_pool,
    "stalled-workers": lambda n: stalled_workers(int(n)),
}


def said(workers: list[dict[str, Any]]) -> str:
    """What the page showed, in words, for a picture's alternative text."""
    parts = []
    for w in workers:
        pools = ", ".join(
            f"{'anyio threads' if p['name'] == 'anyio' else p['name']} {p['busy']}/"
            f"{'?' if p['size'] is None else p['size']} busy"
            + (f" and {p['queued']} queued" if p["queued"] else "")
            for p in w["pools"]
        )
        stalled = ", its loop stalled" if w["stalled"] else ""
        parts.append(
            f"worker {w['pid']} ({w['state']}): {w['requests']} "
            f"request{'s' * (w['requests'] != 1)} in flight, "
            f"{pools or 'no pool'}{stalled}"
        )
    return "; ".join(parts)


#: Shoots a live block: its argument in, (exit status, the picture's Markdown) out.
Shooter = Callable[[str], tuple[int, str]]


def shoot(spec: str, img: Path = DOCS / "img") -> tuple[int, str]:
    """Run a live block's command with `--live`, photograph its page once it shows WHEN into
    `img`, then let the command finish; (its exit status, the picture's Markdown, its path
    relative to the docs)."""
    sys.path.insert(0, str(DOCS))
    from chromium import chromium, which

    head, _, command = spec.partition(":")
    name, _, when = head.strip().partition(" ")
    what, _, value = when.strip().partition("=")
    if what not in WHEN_SHOWN or not re.fullmatch(r"[a-z0-9-]+", name):
        raise ValueError(f"a live block is 'NAME WHEN: COMMAND', WHEN one of {list(WHEN_SHOWN)}")
    seen = WHEN_SHOWN[what](value)
    binary = which()
    if binary is None:
        raise RuntimeError("a live block needs Debian's chromium (apt-get install chromium)")
    picture = img / f"live-{name}.png"
    process = subprocess.Popen(
        [*command_line(command.strip()), "--live", "--quiet"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stderr is not None
        stderr = process.stderr
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(stderr.readline()), daemon=True)
        reader.start()
        reader.join(60)
        if not first or "live page: " not in first[0]:
            raise RuntimeError(f"{command.strip()} named no live page: {first}")
        url = first[0].split("live page: ", 1)[1].strip()
        with (
            # Chromium's helper processes may still be writing the profile as the browser
            # ends: what they leave behind in /tmp is not worth failing the book for.
            tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile,
            chromium(url, Path(profile), binary=binary) as page,
        ):
            page.until(f"{when} ({command.strip()})", seen, read=READ_PAGE, timeout=300)
            # No more frames: the state read is the state shot.
            page.evaluate("events.close(), JSON.stringify(0)")
            shown = page.evaluate(READ_PAGE)
            picture.write_bytes(page.screenshot())
        output, errors = process.communicate(timeout=600)
        if process.returncode != 0:  # its report says which verdict failed
            sys.stderr.write(output + errors)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(15)
    alt = f"The live page during {command.strip()}: {said(shown)}"
    return process.returncode, f"![{alt}]({os.path.relpath(picture, DOCS)})\n"


def refresh(
    text: str,
    runner: Runner | None = run,
    *,
    failed: list[str] | None = None,
    shooter: Shooter = shoot,
    only: str | None = None,
    kind: str | None = None,
) -> str:
    """`text` with every include re-read and, unless `runner` is None, every output re-run and
    every live page shot again (by `shooter`). With `only`, just the outputs and pages whose
    command contains it; with `kind`, just the blocks of that kind: the others kept as they are."""

    def replace(match: re.Match[str]) -> str:
        block, arg = match["kind"], match["arg"].strip()
        if kind is not None and block != kind:
            body = match["body"]
        elif block == "include":
            body = include(arg)
        elif runner is None or (only is not None and only not in arg):
            body = match["body"]
        elif block == "live":
            status, body = shooter(arg)
            if status != 0 and failed is not None:
                failed.append(f"{arg} (exit {status})")
        else:
            status, printed = runner(arg)
            if status != 0 and failed is not None:
                failed.append(f"{arg} (exit {status})")
            body = f"```text\n$ {arg}\n{printed.rstrip()}\n```\n"
        return match["open"] + body + match["close"]

    return BLOCK.sub(replace, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check includes, write nothing")
    parser.add_argument(
        "--only", metavar="TEXT", help="rerun only the outputs whose command contains TEXT"
    )
    parser.add_argument(
        "--kind", choices=("include", "output", "live"), help="refresh only blocks of this kind"
    )
    parser.add_argument("pages", nargs="*", type=Path, help="pages to refresh (default: all)")
    args = parser.parse_args()
    stale: list[str] = []
    failed: list[str] = []
    for page in [p.resolve() for p in args.pages] or sorted(DOCS.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        if not BLOCK.search(text):
            continue
        print(f"{'checking' if args.check else 'refreshing'} {page.relative_to(ROOT)}", flush=True)
        fresh = refresh(
            text, None if args.check else run, failed=failed, only=args.only, kind=args.kind
        )
        if fresh == text:
            continue
        if args.check:
            stale.append(str(page.relative_to(ROOT)))
        else:
            page.write_text(fresh, encoding="utf-8")
    for name in stale:
        print(f"stale include in {name}: run scripts/docs", file=sys.stderr)
    for command in failed:
        print(f"failed: {command}", file=sys.stderr)
    return 1 if stale or failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
