"""The module graph shows the architecture: no import cycles, the numba kernel imports
nothing above it, and only the vectorbt wrapper imports vectorbt.

Imports are read from the source (also those inside functions), not executed.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "strategies")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path) -> set[str]:
    """Every module imported anywhere in the file (absolute imports only). `from pkg import
    name` counts as importing `pkg` (its __init__ runs first) and `pkg.name` if that is a
    module, so a package whose __init__ imports a submodule that imports the package back
    is a cycle."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: (_imports(path) & set(modules)) - {name} for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative enough
    for a graph of this size)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_module_graph_has_no_cycles():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_the_numba_kernels_import_nothing_above_them():
    graph = _graph()
    for kernel in ("engine.sim.fastsim", "engine.metrics.fast_stats"):
        formulas = ("engine.rules", "engine.metrics.stats", "engine.metrics.distribution")
        above = {m for m in graph[kernel] if m not in formulas}
        assert above == set(), f"{kernel} imports {above}"


def test_only_the_vectorbt_wrapper_imports_vectorbt():
    importers = {
        name
        for name, path in _modules().items()
        if any(m == "vectorbt" or m.startswith("vectorbt.") for m in _imports(path))
    }
    assert importers == {"engine.sim.portfolio"}
