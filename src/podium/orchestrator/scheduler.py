"""Event-driven DAG scheduling under a concurrency limit.

A node starts the moment its last dependency finishes and a slot is free;
there are no waves. Among ready nodes, the one with the longest path to
the end of the graph goes first (critical-path list scheduling), which
keeps the makespan close to max(critical path, work / slots).

The scheduler knows nothing about agents: `run_node(id)` returns True on
success and False on failure; raising `StopRun` stops everything (halt,
budget) and the nodes that were in flight are reported as interrupted.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


class StopRun(Exception):
    """Stop the whole graph now (halt, budget exhausted); in-flight nodes are cancelled."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Parking:
    """Nodes that wait on a person (a help request) and give their slot to other work meanwhile.

    A parked node still runs (it is awaiting an answer); it just does not
    count against the concurrency limit, so independent subtasks start. When
    it is answered it carries on at once, briefly over the limit.
    """

    def __init__(self) -> None:
        self.parked: set[str] = set()
        self.changed = asyncio.Event()

    def park(self, node: str) -> None:
        self.parked.add(node)
        self.changed.set()

    def unpark(self, node: str) -> None:
        self.parked.discard(node)


@dataclass
class GraphResult:
    done: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)
    interrupted: set[str] = field(default_factory=set)  # in flight when the run stopped
    stopped: str | None = None


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


async def run_graph(
    deps: dict[str, list[str]],
    run_node: Callable[[str], Awaitable[bool]],
    *,
    concurrency: int,
    done: Iterable[str] = (),
    failed: Iterable[str] = (),
    blocked: Iterable[str] = (),
    on_blocked: Callable[[list[str], str], Awaitable[None]] | None = None,
    before_start: Callable[[], Awaitable[None]] | None = None,
    cost: dict[str, float] | None = None,
    register_cancel: Callable[[Callable[[], None]], Callable[[], None]] | None = None,
    parking: Parking | None = None,
) -> GraphResult:
    """Run every node not already done/failed/blocked, respecting dependencies.

    `before_start` is awaited before each launch (a pause gate; it may raise
    StopRun). `register_cancel(fn)` lets a control channel cancel in-flight
    nodes (halt); it returns an unregister function.
    """
    result = GraphResult(done=set(done), failed=set(failed), blocked=set(blocked))
    priority = bottom_levels(deps, cost)
    position = {n: i for i, n in enumerate(deps)}
    children: dict[str, list[str]] = {n: [] for n in deps}
    waiting: dict[str, int] = {}
    for node, ds in deps.items():
        for d in ds:
            children[d].append(node)
    finished = result.done | result.failed | result.blocked
    ready: list[tuple[float, int, str]] = []

    async def block_from(root: str, why: str) -> None:
        # Every not-yet-finished node downstream of `root` can never run.
        stack, hit = list(children[root]), []
        while stack:
            node = stack.pop()
            if node in finished:
                continue
            finished.add(node)
            result.blocked.add(node)
            hit.append(node)
            stack.extend(children[node])
        if hit and on_blocked is not None:
            await on_blocked(sorted(hit, key=position.__getitem__), why)

    for node, ds in deps.items():
        if node in finished:
            continue
        waiting[node] = sum(1 for d in ds if d not in result.done)
    for node in list(result.failed | result.blocked):
        await block_from(node, node)
    for node, count in waiting.items():
        if count == 0 and node not in finished:
            heapq.heappush(ready, (-priority[node], position[node], node))

    running: dict[asyncio.Future[bool], str] = {}
    stop: list[str] = []

    def cancel_all() -> None:
        stop.append("halted")
        for task in running:
            task.cancel()

    unregister = register_cancel(cancel_all) if register_cancel else None
    try:
        def busy() -> int:
            if parking is None:
                return len(running)
            return len(running) - sum(1 for n in running.values() if n in parking.parked)

        while ready or running:
            if parking is not None:
                parking.changed.clear()
            while ready and busy() < concurrency and not stop:
                if before_start is not None:
                    await before_start()
                    if stop:
                        break
                _, _, node = heapq.heappop(ready)
                started = asyncio.ensure_future(run_node(node))
                if isinstance(started, asyncio.Task):
                    started.set_name(f"subtask:{node}")
                running[started] = node
            if not running:
                break
            waiters: set[asyncio.Future[Any]] = set(running)
            wake: asyncio.Task[Any] | None = None
            if parking is not None and ready:
                # A node parking (asking the human) frees a slot: wake up to start the next one.
                wake = asyncio.create_task(parking.changed.wait())
                waiters.add(wake)
            finished_tasks, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if wake is not None:
                wake.cancel()
                finished_tasks.discard(wake)
            for task in finished_tasks:
                node = running.pop(task)
                if task.cancelled():
                    result.interrupted.add(node)
                    continue
                exc = task.exception()
                if isinstance(exc, StopRun):
                    result.interrupted.add(node)
                    if not stop:
                        stop.append(exc.reason)
                    continue
                if exc is not None:
                    raise exc
                finished.add(node)
                if task.result():
                    result.done.add(node)
                    for child in children[node]:
                        if child in finished:
                            continue
                        waiting[child] -= 1
                        if waiting[child] == 0:
                            heapq.heappush(ready, (-priority[child], position[child], child))
                else:
                    result.failed.add(node)
                    await block_from(node, node)
            if stop and running:
                for task in running:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)
                result.interrupted.update(running.values())
                running.clear()
            if stop:
                break
    except StopRun as exc:  # raised by before_start
        stop.append(exc.reason)
    finally:
        if running:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            result.interrupted.update(running.values())
        if unregister is not None:
            unregister()
    if stop:
        result.stopped = stop[0]
    return result
