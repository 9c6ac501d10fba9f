"""The house's floors: every import arrow points down, and none runs in a circle.

Read from the source with `ast` (nothing is imported): an arrow is a module of `asgi_lab`
importing another, at the top or inside a function alike; `if TYPE_CHECKING:` imports count too,
since they tell a reader what a module depends on.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "asgi_lab"


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def arrows(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports."""
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                # `from pkg import mod` names a module; `from mod import name` the module.
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles between modules (a package's `__init__` importing its own modules aside)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                found.append(path[path.index(nxt) :] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


# Who may not import whom: (importer prefix, forbidden prefixes).
FORBIDDEN = [
    ("asgi_lab.records", ["asgi_lab.probe", "asgi_lab.lab", "asgi_lab.cli", "asgi_lab.trace",
                          "asgi_lab.timeline", "asgi_lab.testing", "asgi_lab.framework",
                          "asgi_lab.settings", "asgi_lab.serving"]),
    ("asgi_lab.probe", ["asgi_lab.lab", "asgi_lab.cli", "asgi_lab.trace", "asgi_lab.timeline",
                        "asgi_lab.testing", "asgi_lab.framework", "asgi_lab.raw",
                        "asgi_lab.routes", "asgi_lab.api", "asgi_lab.catalogue"]),
    ("asgi_lab.framework", ["asgi_lab.probe", "asgi_lab.lab", "asgi_lab.records",
                            "asgi_lab.cli", "asgi_lab.trace"]),
    ("asgi_lab.timeline", ["asgi_lab.lab", "asgi_lab.cli", "asgi_lab.trace", "asgi_lab.probe"]),
    ("asgi_lab.testing", ["asgi_lab.lab", "asgi_lab.cli", "asgi_lab.trace"]),
    ("asgi_lab.trace", ["asgi_lab.lab.experiments", "asgi_lab.cli"]),
    ("asgi_lab.lab", ["asgi_lab.cli"]),
]  # fmt: skip


def test_no_import_runs_in_a_circle() -> None:
    graph = arrows()
    # A package's face imports its rooms, and a room may import a sibling through the face:
    # only cycles between rooms count.
    rooms = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}
    assert cycles(rooms) == []


def test_every_arrow_points_down() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in arrows().items()
        for target in targets
        for importer, forbidden in FORBIDDEN
        if module == importer or module.startswith(importer + ".")
        if any(target == f or target.startswith(f + ".") for f in forbidden)
    ]
    assert wrong == []


def test_nothing_imports_the_cli() -> None:
    graph = arrows()
    assert [m for m, ts in graph.items() if "asgi_lab.cli" in ts and m != "asgi_lab.__main__"] == []


def test_the_sweep_finds_a_cycle_and_an_arrow(tmp_path: Path) -> None:
    # The checks above could not fail if the reader saw no arrows: it sees these.
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg import b\n")
    (package / "b.py").write_text("from . import a\nimport pkg.c\n")
    (package / "c.py").write_text("def f():\n    from pkg.a import x\n")
    graph = arrows(package)
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.a", "pkg.c"}
    assert graph["pkg.c"] == {"pkg.a"}
    assert cycles(graph)
