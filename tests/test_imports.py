"""No import cycle anywhere in ``lib/medner``: every module's imports of medner modules, at module level and
inside functions, form a graph without cycles (STYLE lesson 14: data, then pictures, and no cycles).

An import inside a function hides a cycle from Python's import machinery but not from a reader: the two
modules still need each other, so those imports count too. ``from medner.a import b`` is an import of the
module ``medner.a.b`` when that module exists, else of ``medner.a`` (a name defined there).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib"
PACKAGE = "medner"


def module_name(path: Path) -> str:
    """``lib/medner/comparison/study.py`` -> ``medner.comparison.study``; a package's ``__init__.py`` is the package."""
    parts = list(path.relative_to(LIB).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {module_name(path): path for path in sorted((LIB / PACKAGE).rglob("*.py"))}


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The absolute module a ``from ... import`` names, resolving relative imports against ``importer``."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_modules(path: Path, importer: str, modules: set[str]) -> set[str]:
    """The medner modules ``path`` imports anywhere in its body (functions included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, importer, path.name == "__init__.py")
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.add(submodule if submodule in modules else source)
    return {name for name in found if name in modules and name != importer}


def import_graph() -> dict[str, set[str]]:
    """``{module: the medner modules it imports}`` for every module of the package."""
    modules = all_modules()
    return {name: imported_modules(path, name, set(modules)) for name, path in modules.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module, each as one cycle through it ``[a, b, ..., a]``.

    Tarjan's algorithm finds the groups; a path inside each group is then walked back to its start,
    so the message shows a cycle a reader can follow import by import.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_through(group, graph) for group in sorted(groups, key=min)]


def _cycle_through(group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """One cycle inside a strongly connected ``group``, from its first module (by name) back to it."""
    start = min(group)
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:  # breadth first, so the cycle shown is a shortest one
        following = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == start:
                    path = [start]
                    while node != start:
                        path.append(node)
                        node = parents[node]
                    return [start, *reversed(path[1:]), start]
                if target not in parents:
                    parents[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"{sorted(group)}: expected a strongly connected group of modules")


def test_no_module_of_medner_takes_part_in_an_import_cycle() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles in lib/medner (function-level imports included):\n" + "\n".join(
        "  " + " -> ".join(cycle) for cycle in cycles
    )


def test_figures_and_tables_import_nothing_from_the_comparison() -> None:
    graph = import_graph()
    for module in ("medner.figures", "medner.tables"):
        computing = sorted(name for name in graph[module] if name.split(".")[:2] == ["medner", "comparison"])
        assert not computing, f"{module}: expected to read comparison data only; it imports {', '.join(computing)}"


def test_the_cycle_finder_finds_a_cycle_and_names_it() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e2"}, "e2": {"e"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["e", "e2", "e"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_function_level_and_relative_imports_are_edges(tmp_path, monkeypatch) -> None:
    package = tmp_path / PACKAGE / "sub"
    package.mkdir(parents=True)
    (tmp_path / PACKAGE / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "one.py").write_text("def f():\n    from . import two\n    from medner import other\n")
    (package / "two.py").write_text("from medner.sub.one import f\n")
    (tmp_path / PACKAGE / "other.py").write_text("LIMIT = 1\n")
    monkeypatch.setattr(f"{__name__}.LIB", tmp_path)
    graph = import_graph()
    assert graph["medner.sub.one"] == {"medner.sub.two", "medner.other"}
    assert find_cycles(graph) == [["medner.sub.one", "medner.sub.two", "medner.sub.one"]]


@pytest.mark.parametrize("module", ["medner.figures", "medner.tables"])
def test_the_graph_sees_every_module(module) -> None:
    assert module in import_graph()
