"""The event-driven scheduler: no waves, concurrency cap, failure isolation, stop."""

from __future__ import annotations

import asyncio
import time

import pytest

from podium.orchestrator.graph_order import bottom_levels
from podium.orchestrator.scheduler import StopRun, run_graph
from tests.conftest import eventually


class Recorder:
    def __init__(self, durations: dict[str, float], fail: set[str] = frozenset(), stop: str | None = None):
        self.durations = durations
        self.fail = fail
        self.stop = stop
        self.start: dict[str, float] = {}
        self.end: dict[str, float] = {}
        self.running = 0
        self.peak = 0
        self.t0 = time.monotonic()

    async def __call__(self, node: str) -> bool:
        self.start[node] = time.monotonic() - self.t0
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(self.durations.get(node, 0.01))
            if node == self.stop:
                raise StopRun("budget")
            return node not in self.fail
        finally:
            self.running -= 1
            self.end[node] = time.monotonic() - self.t0


async def test_a_node_starts_when_its_last_dependency_finishes_not_when_the_wave_does():
    # a (slow) and b (fast) run together; d depends only on b, so it must not wait for a.
    deps = {"a": [], "b": [], "c": ["a"], "d": ["b"]}
    rec = Recorder({"a": 0.3, "b": 0.05, "c": 0.05, "d": 0.05})
    result = await run_graph(deps, rec, concurrency=4)
    assert result.done == {"a", "b", "c", "d"}
    assert rec.start["d"] < rec.end["a"] - 0.1
    assert rec.start["d"] >= rec.end["b"] - 0.005
    assert rec.start["c"] >= rec.end["a"] - 0.005


async def test_concurrency_limit_is_respected_and_used():
    deps = {f"n{i}": [] for i in range(10)}
    rec = Recorder(dict.fromkeys(deps, 0.03))
    await run_graph(deps, rec, concurrency=3)
    assert rec.peak == 3


async def test_failure_blocks_dependents_and_independent_branches_continue():
    deps = {"a": [], "b": ["a"], "c": ["b"], "x": [], "y": ["x"]}
    blocked_calls = []

    async def on_blocked(ids, because):
        blocked_calls.append((ids, because))

    rec = Recorder({}, fail={"a"})
    result = await run_graph(deps, rec, concurrency=2, on_blocked=on_blocked)
    assert result.failed == {"a"}
    assert result.blocked == {"b", "c"}
    assert result.done == {"x", "y"}
    assert blocked_calls == [(["b", "c"], "a")]
    assert "b" not in rec.start


async def test_stop_cancels_in_flight_and_reports_them():
    deps = {"a": [], "slow": [], "after": ["a"]}
    rec = Recorder({"a": 0.02, "slow": 5.0}, stop="a")
    began = time.monotonic()
    result = await run_graph(deps, rec, concurrency=2)
    assert time.monotonic() - began < 2
    assert result.stopped == "budget"
    assert result.interrupted == {"a", "slow"}
    assert "after" not in rec.start


async def test_external_cancel_halts_the_graph():
    deps = {"a": [], "b": []}
    cancel = []
    rec = Recorder({"a": 5.0, "b": 5.0})

    async def halt_soon():
        await eventually(lambda: cancel and rec.running == 2, what="both nodes running")
        cancel[0]()

    def register(fn):
        cancel.append(fn)
        return lambda: None

    halter = asyncio.create_task(halt_soon())
    result = await run_graph(deps, rec, concurrency=2, register_cancel=register)
    await halter
    assert result.stopped == "halted" and result.interrupted == {"a", "b"}


async def test_resume_skips_done_nodes_and_keeps_failed_ones_blocking():
    deps = {"a": [], "b": ["a"], "f": [], "g": ["f"]}
    rec = Recorder({})
    result = await run_graph(deps, rec, concurrency=2, done=["a"], failed=["f"])
    assert set(rec.start) == {"b"}
    assert result.blocked == {"g"}


async def test_critical_path_goes_first():
    # With one slot, the node heading the long chain must be chosen before the lone one.
    deps = {"lone": [], "head": [], "mid": ["head"], "tail": ["mid"]}
    assert bottom_levels(deps)["head"] == 3
    rec = Recorder({})
    await run_graph(deps, rec, concurrency=1)
    assert rec.start["head"] < rec.start["lone"]


async def test_node_exceptions_are_bugs_and_propagate():
    async def boom(node):
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        await run_graph({"a": []}, boom, concurrency=1)
