"""Scheduler benchmark: makespan against the critical-path bound, and per-subtask overhead.

A seeded layered DAG (each node depends on 1-3 nodes of the layer above)
runs through the real engine, store and gateway on the scripted model:

1. with a fixed per-call latency and a concurrency limit: the makespan
   (first subtask start to last subtask end) against the lower bound
   max(critical path, total work / concurrency);
2. with zero latency and one slot: wall time per subtask, split into the
   model call (litellm + scripted provider) and the orchestration around it
   (scheduling, prompt building, the window query, durable writes).
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


async def _one(folder: Path, name: str, subtasks: list[Subtask], latency_ms: float,
               concurrency: int) -> Timing:
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
        final = await engine.execute(execution.id)
        wall = time.perf_counter() - start
        if final.status.value != "completed":
            raise RuntimeError(f"benchmark run ended {final.status.value}")
        done = await repo.subtasks(execution.id)
        makespan = max(s.finished_at or 0.0 for s in done) - min(s.started_at or 0.0 for s in done)
        return Timing(makespan=makespan, wall=wall, model_time=gateway.model_time)


async def run(n: int = 200, max_width: int = 20, latency_ms: float = 500.0, concurrency: int = 8,
              seed: int = 7, overhead_n: int = 200) -> dict[str, float]:
    subtasks = layered_dag(n, max_width, seed)
    cp = critical_path(subtasks)
    bound = max(cp * latency_ms / 1000, n * latency_ms / 1000 / concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        timed = await _one(folder, "latency", subtasks, latency_ms, concurrency)
        serial = layered_dag(overhead_n, max_width, seed)
        zero = await _one(folder, "zero", serial, 0.0, 1)
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
    return {"makespan_s": timed.makespan, "bound_s": bound, "ratio": ratio,
            "per_subtask_ms": per_subtask, "model_ms": model_part, "overhead_ms": overhead}
