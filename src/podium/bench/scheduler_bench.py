"""Scheduler benchmark: makespan against the critical-path bound, and per-subtask overhead.

A seeded layered DAG (each node depends on 1-3 nodes of the layer above)
runs through the real engine, store and gateway on the scripted model:

1. with a fixed per-call latency and a concurrency limit: the makespan
   (first subtask start to last subtask end) against the lower bound
   max(critical path, total work / concurrency);
2. with zero latency and one slot: wall time per subtask, split into the
   model call (litellm + scripted provider) and the orchestration around it
   (scheduling, prompt building, the window query, durable writes);
3. the living plan: the same graph, with `live_add` subtasks added while it
   runs (through the engine's live-change path, each a durable plan change),
   against the bound of the graph as it ended: max(critical path, work /
   concurrency, the time of the last addition + the longest path it opened).
"""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.app.session import ProjectSession
from podium.domain import Agent, Budget, Execution, Plan, Subtask, Team
from podium.orchestrator.settings import EngineSettings

TEAM = Team(name="bench", leader="lead", agents=[
    Agent(name="lead", role="leader"), Agent(name="worker", role="worker"),
    Agent(name="helper", role="helper"),
])


def layered_dag(n: int, max_width: int, seed: int) -> list[Subtask]:
    rng = random.Random(seed)
    layers: list[list[str]] = []
    subtasks: list[Subtask] = []
    while len(subtasks) < n:
        width = min(rng.randint(1, max_width), n - len(subtasks))
        layer = []
        for _ in range(width):
            sid = f"s{len(subtasks) + 1}"
            deps = rng.sample(layers[-1], min(len(layers[-1]), rng.randint(1, 3))) if layers else []
            subtasks.append(Subtask(id=sid, agent=rng.choice(["worker", "helper"]),
                                    description=f"work {sid}", depends_on=sorted(deps)))
            layer.append(sid)
        layers.append(layer)
    return subtasks


def critical_path(subtasks: list[Subtask]) -> int:
    depth: dict[str, int] = {}
    for s in subtasks:  # generated in topological order
        depth[s.id] = 1 + max((depth[d] for d in s.depends_on), default=0)
    return max(depth.values())


@dataclass
class Timing:
    makespan: float
    wall: float
    model_time: float
    bound_after_adds: float = 0.0  # live case: the lower bound of the graph as it ended


class _TimedGateway:
    """Wraps the real gateway to add up the time spent inside model calls."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_time = 0.0

    async def complete(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await self.inner.complete(*args, **kwargs)
        finally:
            if kwargs["context"].phase == "execution":  # subtask calls only, not the synthesis
                self.model_time += time.perf_counter() - start

    async def structured(self, *args: Any, **kwargs: Any) -> Any:
        return await self.inner.structured(*args, **kwargs)

    def supports_tools(self, model: str | None = None) -> bool:
        return bool(self.inner.supports_tools(model))

    def resolve(self, model: str | None) -> str:
        return str(self.inner.resolve(model))


def _added(subtasks: list[Subtask], n: int, seed: int) -> list[Subtask]:
    """`n` subtasks to add while the graph runs, each after 1-2 nodes of its first half."""
    rng = random.Random(seed + 1)
    early = [s.id for s in subtasks[: max(1, len(subtasks) // 2)]]
    return [Subtask(id=f"x{i + 1}", agent=rng.choice(["worker", "helper"]), description=f"added {i + 1}",
                    depends_on=sorted(rng.sample(early, min(len(early), rng.randint(1, 2)))))
            for i in range(n)]


async def _add_live(engine: Any, run_id: str, added: list[Subtask], delay_s: float) -> float:
    """Add `added` to the running graph after `delay_s`; returns when the last was accepted."""
    import asyncio

    from podium.domain import PlanAction, PlanChange

    await asyncio.sleep(delay_s)
    for s in added:
        await engine.change_plan(run_id, PlanChange(action=PlanAction.ADD, subtask_id=s.id, agent=s.agent,
                                                    description=s.description, after=s.depends_on),
                                 by="bench", source="bench")
    return time.time()  # the clock subtasks' started_at uses


async def _one(folder: Path, name: str, subtasks: list[Subtask], latency_ms: float,
               concurrency: int, added: list[Subtask] | None = None) -> Timing:
    script = folder / f"{name}.toml"
    script.write_text(
        f'[[rules]]\nphase = "execution"\nreply = "result of {{subtask}}"\nlatency_ms = {latency_ms}\n'
        '[[rules]]\nphase = "synthesis"\nreply = "done"\n', encoding="utf-8")
    timed: list[_TimedGateway] = []

    def wrap(inner: Any) -> Any:
        timed.append(_TimedGateway(inner))
        return timed[-1]

    # The window query is part of the measured work (kept small); no memory, no tools, and the
    # runs record no settings.
    async with ProjectSession(folder / f"{name}.podium", model=f"scripted:{script}", tools=False,
                              memory=False, record=False, wrap_gateway=wrap,
                              settings=EngineSettings(concurrency=concurrency, window_messages=5)) as session:
        engine = await session.ensure_engine()
        gateway = timed[0]
        # Warm up: the first call imports litellm (~3 s), which is not scheduling.
        from podium.llm.types import CallContext

        await gateway.inner.complete([{"role": "user", "content": "warm up"}],
                                     context=CallContext(phase="warmup"))
        repo = session.runs
        execution = Execution(objective="benchmark", team=TEAM.name, budget=Budget())
        await repo.create_execution(execution, TEAM)
        plan = Plan(subtasks=[s.model_copy() for s in subtasks])
        version = await repo.add_plan(execution.id, plan, fallback=False, errors=[])
        await repo.approve_plan(execution.id, version, plan, by="bench")
        start = time.perf_counter()
        import asyncio

        adding = None
        if added:  # a tenth of the way into the run (by the plain bound), while it runs
            delay = max(critical_path(subtasks), len(subtasks) / concurrency) * latency_ms / 1000 / 10
            adding = asyncio.create_task(_add_live(engine, execution.id, added, delay))
        final = await engine.execute(execution.id)
        wall = time.perf_counter() - start
        if final.status.value != "completed":
            raise RuntimeError(f"benchmark run ended {final.status.value}")
        done = await repo.subtasks(execution.id)
        first = min(s.started_at or 0.0 for s in done)
        makespan = max(s.finished_at or 0.0 for s in done) - first
        bound = 0.0
        if adding is not None:
            if len(done) != len(subtasks) + len(added or []):
                raise RuntimeError("the added subtasks did not all run")
            last_add = await adding - first  # seconds into the run
            everything = subtasks + list(added or [])
            lat = latency_ms / 1000
            # An added node (no dependents) runs once, after it was added.
            bound = max(critical_path(everything) * lat, len(everything) * lat / concurrency, last_add + lat)
        return Timing(makespan=makespan, wall=wall, model_time=gateway.model_time, bound_after_adds=bound)


async def run(n: int = 200, max_width: int = 20, latency_ms: float = 500.0, concurrency: int = 8,
              seed: int = 7, overhead_n: int = 200, live_add: int = 50) -> dict[str, float]:
    subtasks = layered_dag(n, max_width, seed)
    cp = critical_path(subtasks)
    bound = max(cp * latency_ms / 1000, n * latency_ms / 1000 / concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        timed = await _one(folder, "latency", subtasks, latency_ms, concurrency)
        serial = layered_dag(overhead_n, max_width, seed)
        zero = await _one(folder, "zero", serial, 0.0, 1)
        extra = _added(subtasks, live_add, seed)
        live = await _one(folder, "live", subtasks, latency_ms, concurrency, extra) if live_add else None
    ratio = timed.makespan / bound
    per_subtask = zero.makespan / overhead_n * 1000
    model_part = zero.model_time / overhead_n * 1000
    overhead = per_subtask - model_part
    print(f"scheduler benchmark: layered DAG, {n} subtasks, width <= {max_width}, seed {seed}")
    print(f"  latency {latency_ms:g} ms per call, concurrency {concurrency}, critical path {cp} subtasks")
    print(f"  makespan                      {timed.makespan:8.3f} s")
    print(f"  lower bound                   {bound:8.3f} s   max(critical path "
          f"{cp * latency_ms / 1000:.3f} s, work/concurrency {n * latency_ms / 1000 / concurrency:.3f} s)")
    print(f"  ratio                         {ratio:8.3f}     target <= 1.10")
    print(f"zero latency, one slot, {overhead_n} subtasks (durable writes included)")
    print(f"  wall time per subtask         {per_subtask:8.2f} ms")
    print(f"    in the model call           {model_part:8.2f} ms   (litellm + scripted provider)")
    print(f"    orchestration overhead      {overhead:8.2f} ms   target < 5 ms")
    out = {"makespan_s": timed.makespan, "bound_s": bound, "ratio": ratio,
           "per_subtask_ms": per_subtask, "model_ms": model_part, "overhead_ms": overhead}
    if live is not None:
        live_ratio = live.makespan / live.bound_after_adds
        print(f"living plan: {live_add} subtasks added to the running {n}-subtask graph")
        print(f"  makespan                      {live.makespan:8.3f} s")
        print(f"  lower bound (graph as ended)  {live.bound_after_adds:8.3f} s")
        print(f"  ratio                         {live_ratio:8.3f}     target <= 1.10")
        out.update(live_makespan_s=live.makespan, live_bound_s=live.bound_after_adds, live_ratio=live_ratio)
    return out
