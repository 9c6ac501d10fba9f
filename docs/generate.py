"""Refresh the generated parts of the docs: code from the real files, output from real runs.

    python docs/generate.py            # rewrite every block (runs the commands)
    python docs/generate.py --check    # fail if an included piece of code is stale

Two kinds of block, each between an opening comment and `<!-- /include -->` / `<!-- /output -->`:

    <!-- include: asgi_lab/raw.py::lifespan -->   a top-level function, class or variable
    <!-- include: asgi_lab/raw.py:10-20 -->       a range of lines (or the whole file)
    <!-- output: python docs/examples/raw_tour.py -->   a command, run from the project root

Outputs carry pids and timings, so only includes can be checked for staleness; the tests run
every example instead.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shlex
import subprocess
import sys
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
        tree = ast.parse(source)
        for node in tree.body:
            if name in names_of(node):
                first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
                # The comment lines right above belong to it.
                while first > 1 and lines[first - 2].lstrip().startswith("#"):
                    first -= 1
                lines = lines[first - 1 : node.end_lineno]
                break
        else:
            raise LookupError(f"{path} has no top-level {name!r}")
    elif where:
        start, _, end = where.partition("-")
        lines = lines[int(start) - 1 : int(end or start)]
    language = "python" if path.endswith(".py") else ""
    return f"```{language}\n" + "\n".join(lines) + "\n```\n"


def output(command: str) -> str:
    """What a command prints, fenced, after a `$ command` line."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        shlex.split(command),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{command!r} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return f"```text\n$ {command}\n{done.stdout.rstrip()}\n```\n"


def refresh(text: str, *, run: bool) -> str:
    def replace(match: re.Match[str]) -> str:
        kind, arg = match["kind"], match["arg"]
        if kind == "include":
            body = include(arg)
        elif run:
            body = output(arg)
        else:
            body = match["body"]
        return match["open"] + body + match["close"]

    return BLOCK.sub(replace, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check includes, write nothing")
    parser.add_argument("pages", nargs="*", type=Path, help="pages to refresh (default: all)")
    args = parser.parse_args()
    stale = []
    for page in [p.resolve() for p in args.pages] or sorted(DOCS.glob("*.md")):
        text = page.read_text()
        fresh = refresh(text, run=not args.check)
        if fresh != text:
            if args.check:
                stale.append(str(page))
            else:
                page.write_text(fresh)
                print(f"refreshed {page.relative_to(ROOT)}")
    if stale:
        print("stale includes (run python docs/generate.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
