"""A reference list scheduler: what an ideal orchestrator with no work of its own would do.

Event-driven (a subtask starts the moment its last dependency ends and a
slot is free), critical path first (by true latency), each subtask an
asyncio sleep of its latency. Run in the same process as Podium on the same
graph, its makespan is the figure Podium is held against: the gap is
Podium's own cost, not the graph's shape or the machine's timer.
"""

from __future__ import annotations

import asyncio
import heapq
import time

from podium.bench.dag_workload import Workload


async def reference_makespan(w: Workload, concurrency: int) -> float:
    priority = w.bottom_levels()
    order = {n: i for i, n in enumerate(w.deps)}
    children: dict[str, list[str]] = {n: [] for n in w.deps}
    waiting = {n: len(ds) for n, ds in w.deps.items()}
    for node, ds in w.deps.items():
        for d in ds:
            children[d].append(node)
    ready = [(-priority[n], order[n], n) for n, c in waiting.items() if c == 0]
    heapq.heapify(ready)
    running: dict[asyncio.Task[None], str] = {}
    start = time.perf_counter()
    while ready or running:
        while ready and len(running) < concurrency:
            node = heapq.heappop(ready)[2]
            running[asyncio.create_task(asyncio.sleep(w.latency_s[node]))] = node
        finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        for task in finished:
            for child in children[running.pop(task)]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, (-priority[child], order[child], child))
    return time.perf_counter() - start
