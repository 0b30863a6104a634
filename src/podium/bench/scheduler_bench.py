"""Scheduler benchmark: Podium against an ideal scheduler on the same graph, and where its time goes.

1. Against a reference. A seeded 200-subtask layered DAG (see dag_workload.py),
   each subtask's model call taking its own latency through the scripted
   provider, runs through the real engine, store and gateway; the in-process
   reference list scheduler (reference_scheduler.py) runs the same graph with
   asyncio sleeps. Skewed and uniform latencies, concurrency 4 and 8, several
   seeds, and the uniform case again with long-term memory on (a run's
   default: each subtask recalls, each output is remembered). The figure is
   Podium's makespan ÷ the reference's.
2. Event-loop time per subtask (zero latency, one slot): the loop thread's
   CPU time, split into the model call (the scripted provider, which the
   gateway calls directly; a hosted model adds litellm's own work), the
   store (the loop's side of reads and durable writes) and Podium's own work.
3. The living plan: `live_add` subtasks added while a 200-subtask graph runs
   (each a durable plan change through the engine), against the bound of the
   graph as it ended.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podium.app.session import ProjectSession
from podium.bench.dag_workload import Latencies, Workload, finish_times, workload
from podium.bench.loop_clock import LoopClock
from podium.bench.reference_scheduler import reference_makespan
from podium.domain import Agent, Budget, Execution, Plan, PlanAction, PlanChange, Subtask, Team
from podium.llm.types import CallContext
from podium.orchestrator.settings import EngineSettings

TEAM = Team(name="bench", leader="lead", agents=[
    Agent(name="lead", role="leader"), Agent(name="worker", role="worker"),
    Agent(name="helper", role="helper"),
])
TOKENS_PER_SECOND = 10_000  # the plan's estimates are proportional to the true latency
TARGETS = {4: 1.03, 8: 1.05}  # Podium ÷ reference, by concurrency
OWN_TARGET_MS = 0.5


@dataclass
class Timing:
    makespan: float
    model_time: float
    loop: LoopClock | None = None
    last_add: float = 0.0  # live case: seconds into the run when the last addition was accepted
    subtasks: int = 0


@dataclass
class CaseResult:
    kind: Latencies
    concurrency: int
    memory: bool = False  # long-term memory on, as a run has it by default
    ratios: list[float] = field(default_factory=list)  # Podium ÷ reference, per seed
    reference_vs_bound: list[float] = field(default_factory=list)
    podium_vs_bound: list[float] = field(default_factory=list)


class _TimedGateway:
    """Wraps the real gateway: wall time inside subtask model calls, and the loop's CPU there."""

    def __init__(self, inner: Any, clock: LoopClock | None) -> None:
        self.inner = inner
        self.clock = clock
        self.model_time = 0.0

    async def complete(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs["context"].phase != "execution":  # subtask calls only, not the synthesis
            return await self.inner.complete(*args, **kwargs)
        start = time.perf_counter()
        try:
            if self.clock is None:
                return await self.inner.complete(*args, **kwargs)
            with self.clock.charge("model"):
                return await self.inner.complete(*args, **kwargs)
        finally:
            self.model_time += time.perf_counter() - start

    async def structured(self, *args: Any, **kwargs: Any) -> Any:
        return await self.inner.structured(*args, **kwargs)

    def supports_tools(self, model: str | None = None) -> bool:
        return bool(self.inner.supports_tools(model))

    def resolve(self, model: str | None) -> str:
        return str(self.inner.resolve(model))


def _script(w: Workload, zero: bool, others_ms: float = 0.0) -> str:
    """One rule per distinct latency, naming its subtasks; `others_ms` for subtasks added later."""
    by_ms: dict[int, list[str]] = {}
    for node, s in w.latency_s.items():
        by_ms.setdefault(0 if zero else round(s * 1000), []).append(node)
    rules = [f'[[rules]]\nphase = "execution"\nsubtask = {nodes!r}\nreply = "result of {{subtask}}"\n'
             f"latency_ms = {ms}\n".replace("'", '"') for ms, nodes in by_ms.items()]
    rules.append(f'[[rules]]\nphase = "execution"\nreply = "result of {{subtask}}"\n'
                 f"latency_ms = {others_ms}\n")
    return "".join(rules) + '[[rules]]\nphase = "synthesis"\nreply = "done"\n'


def _plan(w: Workload) -> Plan:
    agents = ("worker", "helper")
    return Plan(subtasks=[
        Subtask(id=node, agent=agents[i % 2], description=f"work {node}", depends_on=list(deps),
                estimated_tokens=max(1, round(w.latency_s[node] * TOKENS_PER_SECOND)))
        for i, (node, deps) in enumerate(w.deps.items())])


async def _add_live(session: ProjectSession, run_id: str, added: list[Subtask], delay_s: float) -> float:
    """Add `added` to the running graph after `delay_s`; returns when the last was accepted."""
    engine = await session.ensure_engine()
    await asyncio.sleep(delay_s)
    for s in added:
        await engine.change_plan(run_id, PlanChange(action=PlanAction.ADD, subtask_id=s.id, agent=s.agent,
                                                    description=s.description, after=s.depends_on),
                                 by="bench", source="bench")
    return time.time()  # the clock subtasks' started_at uses


async def run_podium(folder: Path, name: str, w: Workload, concurrency: int, *, zero: bool = False,
                     memory: bool = False,
                     added: list[Subtask] | None = None, add_delay_s: float = 0.0,
                     added_latency_s: float = 0.0) -> Timing:
    script = folder / f"{name}.toml"
    script.write_text(_script(w, zero, added_latency_s * 1000), encoding="utf-8")
    clock = LoopClock() if zero else None
    timed: list[_TimedGateway] = []

    def wrap(inner: Any) -> Any:
        timed.append(_TimedGateway(inner, clock))
        return timed[-1]

    # The window query is part of the measured work (kept small); no memory, no tools, and the
    # runs record no settings.
    async with ProjectSession(folder / f"{name}.podium", model=f"scripted:{script}", tools=False,
                              memory=memory, record=False, wrap_gateway=wrap,
                              settings=EngineSettings(concurrency=concurrency, window_messages=5)) as session:
        engine = await session.ensure_engine()
        gateway = timed[0]
        # Warm up: the first call loads the script and the gateway's code, which is not scheduling.
        await gateway.inner.complete([{"role": "user", "content": "warm up"}],
                                     context=CallContext(phase="warmup"))
        repo = session.runs
        execution = Execution(objective="benchmark", team=TEAM.name, budget=Budget())
        await repo.create_execution(execution, TEAM)
        plan = _plan(w)
        version = await repo.add_plan(execution.id, plan, fallback=False, errors=[])
        await repo.approve_plan(execution.id, version, plan, by="bench")
        adding = (asyncio.create_task(_add_live(session, execution.id, added, add_delay_s))
                  if added else None)
        if clock is not None:
            clock.instrument_store(session.store)
            clock.start()
        final = await engine.execute(execution.id)
        if clock is not None:
            clock.stop()
        if final.status.value != "completed":
            raise RuntimeError(f"benchmark run ended {final.status.value}")
        done = await repo.subtasks(execution.id)
        first = min(s.started_at or 0.0 for s in done)
        makespan = max(s.finished_at or 0.0 for s in done) - first
        last_add = (await adding - first) if adding is not None else 0.0
        return Timing(makespan=makespan, model_time=gateway.model_time, loop=clock, last_add=last_add,
                      subtasks=len(done))


async def compare(folder: Path, kind: Latencies, concurrency: int, seed: int, n: int, width: int,
                  result: CaseResult) -> None:
    w = workload(n, width, kind, seed)
    reference = await reference_makespan(w, concurrency)
    podium = await run_podium(folder, f"{kind}-{concurrency}-{seed}-{result.memory}", w, concurrency,
                              memory=result.memory)
    bound = w.bound_s(concurrency)
    result.ratios.append(podium.makespan / reference)
    result.reference_vs_bound.append(reference / bound)
    result.podium_vs_bound.append(podium.makespan / bound)


def _added(w: Workload, n: int) -> list[Subtask]:
    """`n` subtasks to add while the graph runs, each after 1-2 nodes of its first half."""
    early = list(w.deps)[: max(1, len(w.deps) // 2)]
    return [Subtask(id=f"x{i + 1}", agent=("worker", "helper")[i % 2], description=f"added {i + 1}",
                    depends_on=sorted({early[(i * 7) % len(early)], early[(i * 13 + 5) % len(early)]}))
            for i in range(n)]


async def live_case(folder: Path, n: int, width: int, seed: int, live_add: int, latency_ms: float,
                    concurrency: int) -> tuple[float, float]:
    """(makespan, bound) with `live_add` subtasks added a tenth of the way into the run."""
    base = workload(n, width, "uniform", seed)
    w = Workload(deps=base.deps, latency_s={k: latency_ms / 1000 for k in base.deps})
    added = _added(w, live_add)
    delay = w.bound_s(concurrency) / 10
    timing = await run_podium(folder, "live", w, concurrency, added=added, add_delay_s=delay,
                              added_latency_s=latency_ms / 1000)
    if timing.subtasks != n + live_add:
        raise RuntimeError("the added subtasks did not all run")
    every = dict(w.deps) | {s.id: list(s.depends_on) for s in added}
    lat = dict.fromkeys(every, latency_ms / 1000)
    # An added node (no dependents) runs once, after it was added.
    bound = max(max(finish_times(every, lat).values()), sum(lat.values()) / concurrency,
                timing.last_add + latency_ms / 1000)
    return timing.makespan, bound


async def run(n: int = 200, width: int = 20, seeds: int = 3, live_add: int = 50,
              split_n: int = 200) -> dict[str, Any]:
    cases = [CaseResult(kind, c) for kind in ("skewed", "uniform") for c in (4, 8)]
    cases += [CaseResult("uniform", c, memory=True) for c in (4, 8)]
    out: dict[str, Any] = {}
    print(f"scheduler benchmark: {n}-subtask layered DAG (layers <= {width} wide, 1-3 dependencies),")
    print("Podium against an in-process reference list scheduler on the same graph")
    print("  latencies: skewed = 80% 50-150 ms, 20% 400-800 ms; uniform = all 100 ms")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for seed in range(1, seeds + 1):
            for case in cases:
                await compare(folder, case.kind, case.concurrency, seed, n, width, case)
        print(f"\n  {'latencies':14} {'conc.':>5} {'ref÷bound':>10} {'Podium÷bound':>13} "
              f"{'Podium÷ref':>11} {'worst':>7} {'target':>7}")
        for case in cases:
            mean, worst = statistics.fmean(case.ratios), max(case.ratios)
            target = TARGETS[case.concurrency]
            label = f"{case.kind}{'+memory' if case.memory else ''}"
            print(f"  {label:14} {case.concurrency:5} {statistics.fmean(case.reference_vs_bound):10.3f} "
                  f"{statistics.fmean(case.podium_vs_bound):13.3f} {mean:11.3f} {worst:7.3f} "
                  f"{'<= ' + str(target):>7}{'' if worst <= target else '  MISSED'}")
            out[f"{label.replace('+', '_')}_c{case.concurrency}"] = {"ratio_mean": mean, "ratio_worst": worst}
        print(f"  ({seeds} seeds each; worst is the largest Podium÷ref of the seeds)")

        zero = workload(split_n, width, "uniform", 1)
        timing = await run_podium(folder, "zero", zero, 1, zero=True)
        assert timing.loop is not None
        per = timing.loop.per_item(split_n)
        own = per["loop"] - per["model"] - per["store"]
        print(f"\nevent-loop time per subtask (zero latency, one slot, {split_n} subtasks; loop thread CPU)")
        # Both over the whole execution (start, graph, synthesis, end), not only the subtasks' span.
        print(f"  total                     {per['loop']:7.2f} ms   (wall {per['wall']:.2f} ms)")
        print(f"    model call              {per['model']:7.2f} ms   (scripted provider, called directly)")
        print(f"    store                   {per['store']:7.2f} ms   (the loop's side of reads and writes)")
        print(f"    Podium's own work       {own:7.2f} ms   target <= {OWN_TARGET_MS} ms")
        print("  (a hosted model's call adds litellm's own work on top: see `podium bench llm`)")
        out["loop_ms"] = {"total": per["loop"], "model": per["model"], "store": per["store"], "own": own}

        if live_add:
            makespan, bound = await live_case(folder, n, width, 7, live_add, 500.0, 8)
            print(f"\nliving plan: {live_add} subtasks added to a running {n}-subtask graph "
                  "(500 ms a call, concurrency 8)")
            print(f"  makespan {makespan:.3f} s, bound of the graph as it ended {bound:.3f} s, "
                  f"ratio {makespan / bound:.3f}   target <= 1.10")
            out["live_ratio"] = makespan / bound
    return out
