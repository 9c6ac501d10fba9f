"""Refresh the generated parts of the docs: code from the real files, output from real runs.

    python docs/generate.py            # rewrite every block (runs the commands)
    python docs/generate.py --check    # fail if an included piece of code is stale
    python docs/generate.py --only client_sessions docs/05-clients-and-fan-out.md
                                       # rerun only the outputs whose command contains it

Two kinds of block, each between an opening comment and `<!-- /include -->` / `<!-- /output -->`:

    <!-- include: asgi_lab/raw.py::lifespan -->   a top-level function, class or variable
    <!-- include: asgi_lab/raw.py:10-20 -->       a range of lines (or the whole file)
    <!-- output: asgi-lab experiment clients -->     a command, run from the project root

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
import re
import shlex
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BLOCK = re.compile(
    r"(?P<open><!-- (?P<kind>include|output): (?P<arg>.+?) -->\n)"
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


def refresh(
    text: str,
    runner: Runner | None = run,
    *,
    failed: list[str] | None = None,
    only: str | None = None,
) -> str:
    """`text` with every include re-read and, unless `runner` is None, every output re-run
    (with `only`, just the outputs whose command contains it)."""

    def replace(match: re.Match[str]) -> str:
        kind, arg = match["kind"], match["arg"].strip()
        if kind == "include":
            body = include(arg)
        elif runner is None or (only is not None and only not in arg):
            body = match["body"]
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
    parser.add_argument("pages", nargs="*", type=Path, help="pages to refresh (default: all)")
    args = parser.parse_args()
    stale: list[str] = []
    failed: list[str] = []
    for page in [p.resolve() for p in args.pages] or sorted(DOCS.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        if not BLOCK.search(text):
            continue
        print(f"{'checking' if args.check else 'refreshing'} {page.relative_to(ROOT)}", flush=True)
        fresh = refresh(text, None if args.check else run, failed=failed, only=args.only)
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
