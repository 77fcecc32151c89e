"""The shape of the package, read from its source with ``ast`` (nothing is imported): no import cycle, the layers
``cli → server → api ← sandbox`` hold, and no module grows past 400 lines.

The import graph counts every import, wherever it is written: at the top, under ``if TYPE_CHECKING:`` (a type-level
cycle still ties two modules together) and inside functions (a lazy import of a forbidden layer is still a
dependency on it). ``import a.b`` is an edge to ``a.b``; ``from a.b import c`` is an edge to ``a.b.c`` when that is
a module, else to ``a.b`` (``from . import orders`` needs the module ``orders``, not what the package's
``__init__`` defines: Python imports the submodule even while the package is half-initialised). A package is its
``__init__``.

Known debts sit in explicit allow-lists below, each with its issue: they let the suite pass today and fail the day
anything new appears, or an entry is paid off and should be removed.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "hajatek_mcp"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE
MAX_LINES = 400

# Cycles that exist today in code owned by other work in progress, each as the set of modules tangled together (a
# strongly connected component): a new module joining a known tangle is a new cycle.
KNOWN_CYCLES: frozenset[frozenset[str]] = frozenset()

# Modules over MAX_LINES today, with their count now: they may shrink, never grow. Split them, then drop the entry.
KNOWN_LONG_MODULES: Mapping[str, int] = {}

# Which layers may not import which (by module-name prefix). ``cli`` and the tests are the only place that wires the
# sandbox in; ``api`` is usable without MCP.
FORBIDDEN: Mapping[str, tuple[str, ...]] = {
    f"{PACKAGE}.api": ("mcp", f"{PACKAGE}.server", f"{PACKAGE}.sandbox"),
    f"{PACKAGE}.server": (f"{PACKAGE}.sandbox",),
    f"{PACKAGE}.sandbox": ("mcp", f"{PACKAGE}.server"),
    # The storage seam is a leaf every layer may use: it imports nothing else of the package.
    f"{PACKAGE}.storage": ("mcp", f"{PACKAGE}.api", f"{PACKAGE}.server", f"{PACKAGE}.sandbox", f"{PACKAGE}.cli"),
}


@dataclass(frozen=True)
class Import:
    """One import statement's target, as written in ``module`` at ``line``."""

    module: str
    target: str
    line: int


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Every module under ``root`` by dotted name; a package is named by its ``__init__``."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join((package, *parts))] = path
    return names


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    """Resolve ``from <level dots><name> import ...`` written in ``module``."""
    if level == 0:
        return name or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: -(level - 1)]
    return ".".join([*base, name] if name else base)


def imports_of(module: str, source: str, *, is_package: bool) -> list[Import]:
    """Every import in ``source`` (top level, ``TYPE_CHECKING`` blocks, functions), resolved to absolute names.

    ``from a import b`` yields ``a.b`` and ``a`` both; :func:`import_graph` keeps ``a.b`` when it is a module.
    """
    found = []
    for node in ast.walk(ast.parse(source, filename=module)):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, is_package, node.level, node.module)
            for alias in node.names:
                found.append(Import(module, f"{base}.{alias.name}" if alias.name != "*" else base, node.lineno))
    return found


def import_graph(modules: Mapping[str, str], packages: Iterable[str] = ()) -> dict[str, dict[str, int]]:
    """``{module: {imported module of the package: first line}}`` from ``{module: source}``.

    An imported name that is not a module stands for its parent (``from a.b import c`` → ``a.b``); names outside
    ``modules`` (the standard library, dependencies) are dropped.
    """
    package_set = set(packages)
    graph: dict[str, dict[str, int]] = {name: {} for name in modules}
    for name, source in modules.items():
        for imp in imports_of(name, source, is_package=name in package_set):
            target = imp.target
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].setdefault(target, imp.line)
    return graph


def tangles(graph: Mapping[str, Iterable[str]]) -> list[frozenset[str]]:
    """The groups of modules that import each other, directly or round a loop (strongly connected components with
    a cycle), by Tarjan's algorithm, in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while node not in component:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found, key=sorted)


def cycle_path(graph: Mapping[str, Iterable[str]], tangle: frozenset[str]) -> list[str]:
    """A shortest cycle (``[a, b, ..., a]``) through the first module of ``tangle``, by breadth-first search."""
    start = min(tangle)
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph.get(node, ())):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if nxt in tangle and nxt not in parents:
                    parents[nxt] = node
                    following.append(nxt)
        frontier = following
    raise ValueError(f"{start} is on no cycle within {sorted(tangle)}")


def layering_breaks(graph_imports: Iterable[Import], forbidden: Mapping[str, tuple[str, ...]]) -> list[str]:
    """``module:line imports target`` for every import that crosses a forbidden boundary."""

    def within(name: str, prefix: str) -> bool:
        return name == prefix or name.startswith(prefix + ".")

    breaks = []
    for imp in graph_imports:
        for layer, banned in forbidden.items():
            if within(imp.module, layer) and any(within(imp.target, other) for other in banned):
                breaks.append(f"{imp.module}:{imp.line} imports {imp.target}")
    return sorted(set(breaks))


def long_modules(lengths: Mapping[str, int], limit: int) -> dict[str, int]:
    return {name: count for name, count in sorted(lengths.items()) if count > limit}


# -- the package ---------------------------------------------------------------------------------------------------

PATHS = module_names(ROOT, PACKAGE)
SOURCES = {name: path.read_text(encoding="utf-8") for name, path in PATHS.items()}
PACKAGES = {name for name, path in PATHS.items() if path.name == "__init__.py"}


def _describe(graph: Mapping[str, Mapping[str, int]], tangle: frozenset[str]) -> str:
    path = cycle_path(graph, tangle)
    steps = "".join(f"\n    {a} (line {graph[a][b]}) → {b}" for a, b in itertools.pairwise(path))
    return f"  {', '.join(sorted(tangle))} import each other; for one:{steps}"


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph(SOURCES, PACKAGES)
    found = tangles(graph)
    new = [tangle for tangle in found if tangle not in KNOWN_CYCLES]
    paid_off = KNOWN_CYCLES - set(found)

    assert not new, "import cycles (TYPE_CHECKING and function-level imports count):\n" + "\n".join(
        _describe(graph, tangle) for tangle in new
    )
    assert not paid_off, f"known cycles now gone or changed; update KNOWN_CYCLES: {sorted(map(sorted, paid_off))}"


def test_the_layers_import_only_downwards() -> None:
    every_import = [
        imp for name, source in SOURCES.items() for imp in imports_of(name, source, is_package=name in PACKAGES)
    ]

    assert layering_breaks(every_import, FORBIDDEN) == []


def test_no_module_is_over_400_lines() -> None:
    lengths = {name: len(source.splitlines()) for name, source in SOURCES.items()}
    over = long_modules(lengths, MAX_LINES)
    grown = {name: count for name, count in over.items() if count > KNOWN_LONG_MODULES.get(name, MAX_LINES)}
    stale = {name: lengths.get(name, 0) for name in KNOWN_LONG_MODULES if name not in over}

    assert not grown, "over 400 lines (split by responsibility): " + ", ".join(f"{n} {c}" for n, c in grown.items())
    assert not stale, f"these modules are back under {MAX_LINES} lines; remove them from KNOWN_LONG_MODULES: {stale}"


# -- the checks themselves can fail ----------------------------------------------------------------------------------


def test_the_cycle_finder_finds_every_tangle_and_a_path_through_it() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"g"}, "g": {"f"}}

    found = tangles(graph)

    assert found == [{"a", "b", "c"}, {"e"}, {"f", "g"}]
    assert [cycle_path(graph, tangle) for tangle in found] == [["a", "b", "c", "a"], ["e", "e"], ["f", "g", "f"]]
    assert tangles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_a_cycle_path_is_a_shortest_one_inside_the_tangle() -> None:
    graph = {"a": {"b", "x"}, "b": {"c"}, "c": {"d"}, "d": {"a"}, "x": {"y"}, "y": {"a"}}

    assert tangles(graph) == [{"a", "b", "c", "d", "x", "y"}]
    assert cycle_path(graph, frozenset(graph)) == ["a", "x", "y", "a"]


def test_type_checking_and_relative_imports_make_edges() -> None:
    modules = {
        "pkg": "from .app import run\n",
        "pkg.app": "from . import store\n",
        "pkg.store": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .orders import Order\n",
        "pkg.orders": "from ..pkg.store import Store\nimport json\n",
        "pkg.sub": "",
        "pkg.sub.deep": "from .. import sub\ndef f():\n    from ...pkg import app\n",
    }

    graph = import_graph(modules, packages={"pkg", "pkg.sub"})

    assert graph == {
        "pkg": {"pkg.app": 1},
        "pkg.app": {"pkg.store": 1},
        "pkg.store": {"pkg.orders": 3},
        "pkg.orders": {"pkg.store": 1},
        "pkg.sub": {},
        "pkg.sub.deep": {"pkg.sub": 1, "pkg.app": 3},
    }
    assert tangles(graph) == [{"pkg.orders", "pkg.store"}]


def test_a_name_from_a_package_init_is_an_edge_to_the_package() -> None:
    modules = {"pkg": "from .a import A\nHELPER = 1\n", "pkg.a": "from pkg import HELPER\nA = HELPER\n"}

    assert tangles(import_graph(modules, packages={"pkg"})) == [{"pkg", "pkg.a"}]


def test_layering_breaks_name_the_module_and_line() -> None:
    imports = [
        Import("hajatek_mcp.api.client", "mcp.types", 3),
        Import("hajatek_mcp.server.app", "hajatek_mcp.sandbox.core", 9),
        Import("hajatek_mcp.sandbox.app", "hajatek_mcp.api.models", 2),
        Import("hajatek_mcp.cli", "hajatek_mcp.sandbox", 5),
        Import("hajatek_mcp.api.client", "mcpx", 4),
    ]

    assert layering_breaks(imports, FORBIDDEN) == [
        "hajatek_mcp.api.client:3 imports mcp.types",
        "hajatek_mcp.server.app:9 imports hajatek_mcp.sandbox.core",
    ]


@pytest.mark.parametrize(("count", "over"), [(400, {}), (401, {"m": 401})])
def test_the_line_limit_is_400(count: int, over: dict[str, int]) -> None:
    assert long_modules({"m": count}, MAX_LINES) == over
