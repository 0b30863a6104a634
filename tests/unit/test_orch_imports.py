"""The orchestrator's import shape: no cycles, and nothing below the engine imports it.

Imports under `if TYPE_CHECKING:` count too: a cycle that only type checking
sees is still two modules that cannot be understood one without the other.
"""

from __future__ import annotations

import grimp
import pytest

ORCHESTRATOR = "podium.orchestrator"
ENGINE = "podium.orchestrator.engine"
# What agents, consultation and collaboration run on; none of it may reach the engine.
BELOW_ENGINE = [
    "podium.orchestrator.agent",
    "podium.orchestrator.actions",
    "podium.orchestrator.consult",
    "podium.orchestrator.collaboration",
    "podium.orchestrator.deps",
    "podium.orchestrator.phases",
]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("podium", cache_dir=None)


def import_cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """Every strongly connected set of more than one module inside `package` (Tarjan)."""
    modules = sorted(m for m in graph.modules if m.startswith(package + "."))
    inside = set(modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & inside) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for m in modules:
        if m not in index:
            visit(m)
    return found


def modules_under(graph: grimp.ImportGraph, name: str) -> list[str]:
    return sorted(m for m in graph.modules if m == name or m.startswith(name + "."))


def test_the_orchestrator_has_no_import_cycle(graph: grimp.ImportGraph) -> None:
    assert import_cycles(graph, ORCHESTRATOR) == []


@pytest.mark.parametrize("package", BELOW_ENGINE)
def test_nothing_below_the_engine_imports_it(graph: grimp.ImportGraph, package: str) -> None:
    modules = modules_under(graph, package)
    assert modules, f"{package} is gone: update BELOW_ENGINE"
    reaching = [m for m in modules if ENGINE in graph.find_upstream_modules(m)]
    assert reaching == [], [graph.find_shortest_chain(importer=m, imported=ENGINE) for m in reaching]


def test_only_the_engine_imports_the_engine_inside_the_orchestrator(graph: grimp.ImportGraph) -> None:
    importers = {m for m in graph.find_modules_that_directly_import(ENGINE) if m.startswith(ORCHESTRATOR)}
    assert importers == set()


def test_the_checks_see_a_cycle_and_an_import_of_the_engine(graph: grimp.ImportGraph) -> None:
    """The checks above can fail: the same graph with the old back-edges added fails them."""
    broken = grimp.build_graph("podium", cache_dir=None)
    broken.add_import(importer="podium.orchestrator.agent", imported=ENGINE)
    broken.add_import(importer="podium.orchestrator.actions", imported="podium.orchestrator.agent")
    cycles = import_cycles(broken, ORCHESTRATOR)
    assert any({"podium.orchestrator.agent", ENGINE} <= set(c) for c in cycles)
    assert any({"podium.orchestrator.agent", "podium.orchestrator.actions"} <= set(c) for c in cycles)
    assert ENGINE in broken.find_upstream_modules("podium.orchestrator.collaboration")
