"""The live graph: changes while run_graph runs (add, retry, skip/cancel, reset a done node),
without restarting it, and critical-path order kept for added nodes."""

from __future__ import annotations

import asyncio

import pytest

from podium.orchestrator.live_graph import GraphChangeError, LiveGraph, Node
from podium.orchestrator.scheduler import run_graph
from tests.conftest import eventually


class Runner:
    """run_node for tests: each node waits on its own gate (or a short sleep), logs its start."""

    def __init__(self, fail: set[str] | None = None, gated: set[str] | None = None) -> None:
        self.fail = fail or set()
        self.gates = {n: asyncio.Event() for n in gated or ()}
        self.started: list[str] = []
        self.runs: dict[str, int] = {}

    async def __call__(self, node: str) -> bool:
        self.started.append(node)
        self.runs[node] = self.runs.get(node, 0) + 1
        if node in self.gates:
            await self.gates[node].wait()
        else:
            await asyncio.sleep(0.005)
        return node not in self.fail

    def open(self, node: str) -> None:
        self.gates[node].set()


async def test_a_node_added_while_running_starts_once_its_dependency_is_done():
    graph = LiveGraph({"a": [], "b": ["a"]})
    runner = Runner(gated={"a"})
    task = asyncio.create_task(run_graph({}, runner, concurrency=4, live=graph))
    await eventually(lambda: "a" in runner.started, what="'a' in runner.started")
    graph.add("c", ["a"])
    graph.add("d", [])  # no dependencies: starts at once, while a still runs
    await eventually(lambda: "d" in runner.started, what="'d' in runner.started")
    assert "c" not in runner.started
    runner.open("a")
    result = await task
    assert result.done == {"a", "b", "c", "d"}
    assert runner.started.index("c") > runner.started.index("a")


async def test_an_added_chain_raises_its_ancestors_priority():
    # One slot; x and y are both ready; a long chain added under y makes y go first.
    graph = LiveGraph({"gate": [], "x": ["gate"], "y": ["gate"]})
    runner = Runner(gated={"gate"})
    task = asyncio.create_task(run_graph({}, runner, concurrency=1, live=graph))
    await eventually(lambda: "gate" in runner.started, what="'gate' in runner.started")
    graph.add("y1", ["y"], cost=1.0)
    graph.add("y2", ["y1"], cost=1.0)
    assert graph.priority["y"] > graph.priority["x"]
    runner.open("gate")
    await task
    assert runner.started.index("y") < runner.started.index("x")


async def test_a_failure_leaves_dependents_waiting_and_the_graph_ends_without_hold():
    graph = LiveGraph({"a": [], "b": ["a"], "c": ["b"], "x": []})
    result = await run_graph({}, Runner(fail={"a"}), concurrency=2, live=graph)
    assert result.failed == {"a"} and result.done == {"x"}
    assert result.waiting == {"b", "c"} and not result.blocked
    assert graph.stuck() == ["a", "b", "c"]


async def test_with_hold_a_retried_failure_runs_again_and_its_dependents_follow():
    graph = LiveGraph({"a": [], "b": ["a"]}, hold=True)
    runner = Runner(fail={"a"})
    seen: list[list[str]] = []

    async def on_stuck(nodes: list[str]) -> None:
        seen.append(nodes)

    task = asyncio.create_task(run_graph({}, runner, concurrency=2, live=graph, on_stuck=on_stuck))
    await eventually(lambda: seen == [["a", "b"]], what="seen == [['a', 'b']]")
    assert not task.done()  # waiting for a person
    runner.fail.clear()
    graph.reset("a")
    result = await asyncio.wait_for(task, 2)
    assert result.done == {"a", "b"} and runner.runs["a"] == 2


async def test_skip_with_proceed_releases_dependents_and_block_blocks_them():
    graph = LiveGraph({"a": [], "b": ["a"], "c": [], "d": ["c"]}, hold=True)
    runner = Runner(fail={"a", "c"})
    task = asyncio.create_task(run_graph({}, runner, concurrency=2, live=graph))
    await eventually(lambda: graph.state["a"] is Node.FAILED and graph.state["c"] is Node.FAILED,
                     what="a and c failed")
    assert graph.remove("a", proceed=True) == []
    assert graph.remove("c", proceed=False) == ["d"]
    result = await asyncio.wait_for(task, 2)
    assert result.done == {"b"} and result.blocked == {"d"} and result.removed == {"a", "c"}
    assert "d" not in runner.started


async def test_cancelling_a_running_node_is_not_an_interruption():
    graph = LiveGraph({"a": [], "b": ["a"]})
    runner = Runner(gated={"a"})
    task = asyncio.create_task(run_graph({}, runner, concurrency=2, live=graph))
    await eventually(lambda: "a" in runner.started, what="'a' in runner.started")
    assert graph.remove("a", proceed=True) == []
    result = await asyncio.wait_for(task, 2)
    assert result.removed == {"a"} and result.done == {"b"} and not result.interrupted


async def test_resetting_a_done_node_reruns_it_and_its_done_dependents():
    graph = LiveGraph({"a": [], "b": ["a"], "c": []}, hold=False)
    runner = Runner(gated={"c"})
    task = asyncio.create_task(run_graph({}, runner, concurrency=3, live=graph))
    await eventually(lambda: graph.state["b"] is Node.DONE, what="graph.state['b'] is Node.DONE")
    graph.reset("a")
    graph.reset("b")
    assert graph.state["b"] is Node.WAITING
    runner.open("c")
    result = await asyncio.wait_for(task, 2)
    assert result.done == {"a", "b", "c"}
    assert runner.runs == {"a": 2, "b": 2, "c": 1}
    assert runner.started[3:] == ["a", "b"]  # the second round: a, then b after it


async def test_resetting_a_running_node_restarts_it():
    graph = LiveGraph({"a": []})
    runner = Runner(gated={"a"})
    task = asyncio.create_task(run_graph({}, runner, concurrency=1, live=graph))
    await eventually(lambda: "a" in runner.started, what="'a' in runner.started")
    graph.reset("a")
    await eventually(lambda: runner.runs["a"] == 2, what="runner.runs['a'] == 2")
    runner.open("a")
    result = await asyncio.wait_for(task, 2)
    assert result.done == {"a"} and not result.interrupted


def test_changes_that_break_the_graph_are_refused():
    graph = LiveGraph({"a": [], "b": ["a"], "c": ["b"]})
    with pytest.raises(GraphChangeError, match="cycle"):
        graph.set_deps("a", ["c"])
    with pytest.raises(GraphChangeError, match="no subtask"):
        graph.add("d", ["zz"])
    with pytest.raises(GraphChangeError, match="already exists"):
        graph.add("a", [])
    graph.set_deps("c", ["a"])  # an edge away: fine, and c no longer waits on b's path
    assert graph.deps["c"] == ["a"] and "c" not in graph.children["b"]


async def test_a_halt_ends_a_graph_that_waits_for_a_person():
    graph = LiveGraph({"a": [], "b": ["a"]}, hold=True)
    cancels: list = []

    def register(fn):
        cancels.append(fn)
        return lambda: None

    task = asyncio.create_task(run_graph({}, Runner(fail={"a"}), concurrency=1, live=graph,
                                         register_cancel=register))
    await eventually(lambda: graph.state["a"] is Node.FAILED, what="graph.state['a'] is Node.FAILED")
    await asyncio.sleep(0.02)
    assert not task.done()
    cancels[0]()
    result = await asyncio.wait_for(task, 2)
    assert result.stopped == "halted" and result.waiting == {"b"}
