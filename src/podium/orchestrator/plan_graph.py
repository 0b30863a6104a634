"""Dependency graphs of plans: cycles, and an order where each subtask follows its dependencies."""

from __future__ import annotations

import itertools

# Kept importable from here; it lives in the domain so the store (forks) can use it too.
from podium.domain import with_dependents as with_dependents


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle in `graph` (node -> dependencies) as a path that returns to its start, or None."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = grey
        stack.append(node)
        for dep in graph.get(node, []):
            if colour.get(dep, black) == grey:
                return [*stack[stack.index(dep):], dep]
            if colour.get(dep) == white:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        colour[node] = black
        return None

    for node in graph:
        if colour[node] == white:
            found = visit(node)
            if found:
                return found
    return None


def closing_edge(cycle: list[str], position: dict[str, int]) -> tuple[str, str]:
    """The edge (dependent, dependency) that closes `cycle` in plan order: the dependency on the
    subtask furthest ahead (a cycle always has one edge that points forward)."""
    edges = list(itertools.pairwise(cycle))
    forward = [e for e in edges if position[e[1]] > position[e[0]]] or edges[-1:]
    return max(forward, key=lambda e: position[e[1]] - position[e[0]])


def dependency_order(order: list[str], graph: dict[str, list[str]]) -> list[str]:
    """`order` rearranged so each node comes after its dependencies, otherwise kept as given.
    `graph` must be acyclic."""
    done: set[str] = set()
    out: list[str] = []
    pending = list(order)
    while pending:
        ready = next(n for n in pending if all(d in done for d in graph.get(n, [])))
        pending.remove(ready)
        out.append(ready)
        done.add(ready)
    return out
