"""The scheduler benchmark's workload: a seeded layered DAG with a model latency per subtask.

Layers are 1 to `max_width` wide; every subtask depends on 1 to 3 earlier
ones, at least one of them in the layer just before (so the layers are a
real critical path, not just a numbering). Latencies are either uniform or
skewed (most calls short, a fifth of them long), as model calls are.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

Latencies = Literal["skewed", "uniform"]


@dataclass(frozen=True)
class Workload:
    deps: dict[str, list[str]]  # in topological order
    latency_s: dict[str, float]

    @property
    def work_s(self) -> float:
        return sum(self.latency_s.values())

    def critical_path_s(self) -> float:
        return max(finish_times(self.deps, self.latency_s).values())

    def bound_s(self, concurrency: int) -> float:
        """No schedule can finish sooner: max(critical path, work / slots)."""
        return max(self.critical_path_s(), self.work_s / concurrency)

    def bottom_levels(self) -> dict[str, float]:
        """Longest path (by latency) from each subtask to the end of the graph, itself included."""
        children: dict[str, list[str]] = {n: [] for n in self.deps}
        for node, ds in self.deps.items():
            for d in ds:
                children[d].append(node)
        level: dict[str, float] = {}
        for node in reversed(list(self.deps)):
            level[node] = self.latency_s[node] + max((level[c] for c in children[node]), default=0.0)
        return level


def finish_times(deps: dict[str, list[str]], latency_s: dict[str, float]) -> dict[str, float]:
    finish: dict[str, float] = {}
    for node, ds in deps.items():
        finish[node] = latency_s[node] + max((finish[d] for d in ds), default=0.0)
    return finish


def layered_dag(n: int, max_width: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    layers: list[list[str]] = []
    deps: dict[str, list[str]] = {}
    while len(deps) < n:
        width = min(rng.randint(1, max_width), n - len(deps))
        earlier = [node for layer in layers[:-1] for node in layer]
        layer = []
        for _ in range(width):
            node = f"s{len(deps) + 1}"
            chosen: list[str] = []
            if layers:
                chosen.append(rng.choice(layers[-1]))
                extra = rng.randint(0, 2)
                pool = [x for x in layers[-1] + earlier if x not in chosen]
                chosen += rng.sample(pool, min(extra, len(pool)))
            deps[node] = sorted(chosen, key=lambda s: int(s[1:]))
            layer.append(node)
        layers.append(layer)
    return deps


def latencies(nodes: list[str], kind: Latencies, seed: int) -> dict[str, float]:
    """Seconds per subtask: uniform 100 ms, or 80% 50-150 ms and 20% 400-800 ms (whole ms)."""
    if kind == "uniform":
        return {n: 0.1 for n in nodes}
    rng = random.Random(seed * 7919 + 1)
    out: dict[str, float] = {}
    for n in nodes:
        ms = rng.randint(400, 800) if rng.random() < 0.2 else rng.randint(50, 150)
        out[n] = ms / 1000
    return out


def workload(n: int, max_width: int, kind: Latencies, seed: int) -> Workload:
    deps = layered_dag(n, max_width, seed)
    return Workload(deps=deps, latency_s=latencies(list(deps), kind, seed))
