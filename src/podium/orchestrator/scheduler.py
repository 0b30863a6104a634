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
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from podium.orchestrator.live_graph import LiveGraph, Node


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
    removed: set[str] = field(default_factory=set)  # skipped or cancelled by a change
    waiting: set[str] = field(default_factory=set)  # never ran: something upstream did not finish
    stopped: str | None = None


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
    live: LiveGraph | None = None,
    on_stuck: Callable[[list[str]], Awaitable[None]] | None = None,
) -> GraphResult:
    """Run every node not already done/failed/blocked, respecting dependencies.

    `before_start` is awaited before each launch (a pause gate; it may raise
    StopRun). `register_cancel(fn)` lets a control channel cancel in-flight
    nodes (halt); it returns an unregister function.

    `live`: the graph to run, open to changes while it runs (see live_graph.py); `deps`,
    `done`, `failed`, `blocked` and `cost` are then ignored. Without it a failed node blocks
    everything downstream. With it, failed nodes' dependents wait; when nothing else can run,
    `on_stuck(nodes)` is awaited, then the graph ends, or (`live.hold`) waits for a change.
    """
    graph = live or LiveGraph(deps, cost, done=done, failed=failed, blocked=blocked, block_on_failure=True)
    result = GraphResult()

    if live is None:  # what was failed or blocked before this session blocks its dependents
        for node in [n for n, st in graph.state.items() if st in (Node.FAILED, Node.BLOCKED)]:
            hit = graph.block_downstream(node)
            if hit and on_blocked is not None:
                await on_blocked(hit, node)

    running: dict[asyncio.Future[bool], str] = {}
    by_node: dict[str, asyncio.Future[bool]] = {}
    stop: list[str] = []

    def cancel_all() -> None:
        stop.append("halted")
        for task in running:
            task.cancel()
        graph.wake()

    def cancel_node(node: str) -> None:
        task = by_node.get(node)
        if task is not None:
            task.cancel()

    graph.cancel_running = cancel_node
    unregister = register_cancel(cancel_all) if register_cancel else None
    stuck_seen = -1  # the graph version on_stuck last saw (called once per stuck state)
    try:
        def busy() -> int:
            if parking is None:
                return len(running)
            return len(running) - sum(1 for n in running.values() if n in parking.parked)

        while True:
            if parking is not None:
                parking.changed.clear()
            while busy() < concurrency and not stop and graph.has_ready():
                if before_start is not None:
                    await before_start()
                    if stop:
                        break
                popped = graph.pop_ready()
                if popped is None:  # a change made while the gate waited took it away
                    continue
                graph.started(popped)
                started = asyncio.ensure_future(run_node(popped))
                if isinstance(started, asyncio.Task):
                    started.set_name(f"subtask:{popped}")
                running[started] = popped
                by_node[popped] = started
            if stop:
                break
            waiters: set[asyncio.Future[Any]] = set(running)
            if not running:
                stuck = graph.stuck()
                if not stuck or live is None:
                    break
                if on_stuck is not None and stuck_seen != graph.version:
                    stuck_seen = graph.version
                    await on_stuck(stuck)
                    if graph.has_ready() or stop:
                        continue
                if not graph.hold:
                    break
            wake: asyncio.Task[Any] | None = None
            if parking is not None and graph.has_ready():
                # A node parking (asking the human) frees a slot: wake up to start the next one.
                wake = asyncio.create_task(parking.changed.wait())
                waiters.add(wake)
            waker = graph.waker() if live is not None else None
            if waker is not None:
                waiters.add(waker)
            finished_tasks, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if wake is not None:
                wake.cancel()
                finished_tasks.discard(wake)
            if waker is not None:
                finished_tasks.discard(waker)
            for task in finished_tasks:
                node = running.pop(task)
                by_node.pop(node, None)
                if task.cancelled():
                    if not graph.task_ended(node):
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
                if graph.task_ended(node):  # a change took it over as it finished
                    continue
                hit = graph.finished(node, bool(task.result()))
                if hit and on_blocked is not None:
                    await on_blocked(hit, node)
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
        graph.cancel_running = None
        if unregister is not None:
            unregister()
    for node, st in graph.state.items():
        if st is Node.DONE:
            result.done.add(node)
        elif st is Node.FAILED:
            result.failed.add(node)
        elif st is Node.BLOCKED:
            result.blocked.add(node)
        elif st is Node.REMOVED:
            result.removed.add(node)
        elif st is Node.WAITING and node not in result.interrupted:
            result.waiting.add(node)
    result.interrupted -= result.done | result.failed
    if stop:
        result.stopped = stop[0]
    return result
