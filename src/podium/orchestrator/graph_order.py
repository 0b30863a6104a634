"""Orders of a dependency graph: topological order, and each node's critical-path priority.

Shared by the scheduler and the live graph (which recomputes priorities as nodes are added).
"""

from __future__ import annotations


def bottom_levels(deps: dict[str, list[str]], cost: dict[str, float] | None = None) -> dict[str, float]:
    """Longest path (by cost) from each node to any sink, itself included."""
    children: dict[str, list[str]] = {n: [] for n in deps}
    for node, ds in deps.items():
        for d in ds:
            children.setdefault(d, []).append(node)
    level: dict[str, float] = {}
    order = topological(deps)
    for node in reversed(order):
        own = (cost or {}).get(node, 1.0)
        level[node] = own + max((level[c] for c in children[node]), default=0.0)
    return level


def topological(deps: dict[str, list[str]]) -> list[str]:
    indegree = {n: 0 for n in deps}
    children: dict[str, list[str]] = {n: [] for n in deps}
    for node, ds in deps.items():
        for d in ds:
            if d in deps:
                indegree[node] += 1
                children[d].append(node)
    ready = [n for n, k in indegree.items() if k == 0]
    order: list[str] = []
    while ready:
        node = ready.pop()
        order.append(node)
        for c in children[node]:
            indegree[c] -= 1
            if indegree[c] == 0:
                ready.append(c)
    if len(order) != len(deps):
        raise ValueError("the graph has a cycle")
    return order
