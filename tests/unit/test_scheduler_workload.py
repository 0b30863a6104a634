"""The scheduler benchmark's workload and its reference scheduler."""

from __future__ import annotations

import asyncio

import pytest

from podium.bench.dag_workload import Workload, latencies, layered_dag, workload
from podium.bench.reference_scheduler import reference_makespan


def test_layered_dag_has_one_to_three_dependencies_one_in_the_layer_before() -> None:
    deps = layered_dag(200, 20, seed=3)
    assert len(deps) == 200
    order = list(deps)
    depth: dict[str, int] = {}
    for node, ds in deps.items():
        assert all(order.index(d) < order.index(node) for d in ds)  # topological
        depth[node] = 1 + max((depth[d] for d in ds), default=0)
        if ds:
            assert 1 <= len(ds) <= 3
            assert len(set(ds)) == len(ds)
    roots = [n for n, ds in deps.items() if not ds]
    assert roots == order[: len(roots)]  # only the first layer has no dependencies
    assert max(depth.values()) > 10  # layers chain: a real critical path


def test_skewed_latencies_are_mostly_short_a_fifth_long() -> None:
    lat = latencies([f"s{i}" for i in range(1000)], "skewed", seed=1)
    long = [v for v in lat.values() if v >= 0.4]
    assert all(0.05 <= v <= 0.15 for v in lat.values() if v < 0.4)
    assert all(v <= 0.8 for v in long)
    assert 150 < len(long) < 250
    assert set(latencies(["a", "b"], "uniform", seed=1).values()) == {0.1}


def test_bound_is_critical_path_or_work_over_slots() -> None:
    chain = Workload(deps={"a": [], "b": ["a"], "c": ["b"], "d": []}, latency_s=dict.fromkeys("abcd", 0.1))
    assert chain.critical_path_s() == pytest.approx(0.3)
    assert chain.bound_s(1) == pytest.approx(0.4)
    assert chain.bound_s(4) == pytest.approx(0.3)
    assert chain.bottom_levels()["a"] == pytest.approx(0.3)


def test_reference_scheduler_puts_the_critical_path_first() -> None:
    # One slot-pair: the long chain must start at once, or the makespan grows by a step.
    w = Workload(deps={"short1": [], "short2": [], "long1": [], "long2": ["long1"], "long3": ["long2"]},
                 latency_s={"short1": 0.05, "short2": 0.05, "long1": 0.05, "long2": 0.05, "long3": 0.05})
    makespan = asyncio.run(reference_makespan(w, 2))
    assert makespan == pytest.approx(0.15, abs=0.025)  # short ones first: 0.20


def test_reference_scheduler_is_close_to_the_bound_on_the_benchmark_graph() -> None:
    w = workload(60, 8, "uniform", seed=2)
    w = Workload(deps=w.deps, latency_s=dict.fromkeys(w.deps, 0.01))
    makespan = asyncio.run(reference_makespan(w, 4))
    assert w.bound_s(4) <= makespan < w.bound_s(4) * 1.6
