"""`podium bench plans`: how often a team leader's plan is usable, on a given model.

The leader of each built-in team is asked for a plan on each objective of a fixed list
(plan_objectives.toml) through the engine's own planning path (orchestrator/leader_plan.py:
structured call, mending, repair, fallback), with the engine's default limits. No specialist
discussion comes first, so every model sees the same prompt. Figures only, no pass/fail.
"""

from __future__ import annotations

import asyncio
import json
import time
import tomllib
from collections.abc import Callable, Sequence
from importlib import resources

from pydantic import BaseModel, Field, RootModel

from podium.domain import Team
from podium.errors import PodiumError
from podium.llm.types import CallContext
from podium.orchestrator import context as prompts
from podium.orchestrator.leader_plan import STAGES, Stage, leader_plan
from podium.orchestrator.ports import GatewayPort
from podium.orchestrator.settings import EngineSettings
from podium.orchestrator.teams import PRESETS

STAGE_LABELS: dict[Stage, str] = {"first_try": "first try", "mended": "mended", "repaired": "repaired",
                                  "fallback": "fallback"}


class Objectives(RootModel[dict[str, list[str]]]):
    """Team name -> objectives, as checked into plan_objectives.toml."""


def load_objectives() -> dict[str, list[str]]:
    text = resources.files("podium.bench").joinpath("plan_objectives.toml").read_text(encoding="utf-8")
    return Objectives.model_validate(tomllib.loads(text)).root


class PlanResult(BaseModel):
    team: str
    objective: str
    stage: Stage
    seconds: float
    calls: int
    subtasks: int
    mends: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)


class StageShares(BaseModel):
    """One row of the report: counts per stage, their shares, time and calls per plan."""

    name: str
    plans: int
    counts: dict[Stage, int]
    usable: float  # share of plans without the fallback
    seconds_per_plan: float
    calls_per_plan: float

    @classmethod
    def of(cls, name: str, results: Sequence[PlanResult]) -> StageShares:
        n = len(results)
        counts: dict[Stage, int] = {s: sum(r.stage == s for r in results) for s in STAGES}
        return cls(name=name, plans=n, counts=counts,
                   usable=(n - counts["fallback"]) / n if n else 0.0,
                   seconds_per_plan=sum(r.seconds for r in results) / n if n else 0.0,
                   calls_per_plan=sum(r.calls for r in results) / n if n else 0.0)


class PlanBenchReport(BaseModel):
    model: str
    teams: list[StageShares]
    overall: StageShares
    results: list[PlanResult]


def pick_teams(names: Sequence[str] | None, objectives: dict[str, list[str]]) -> list[Team]:
    names = [n.strip() for given in names or [] for n in given.split(",") if n.strip()] or list(objectives)
    unknown = [n for n in names if n not in PRESETS or n not in objectives]
    if unknown:
        raise PodiumError(f"no built-in team with benchmark objectives named {', '.join(map(repr, unknown))};"
                          f" choose from {', '.join(sorted(set(PRESETS) & set(objectives)))}")
    return [PRESETS[n] for n in dict.fromkeys(names)]


async def plan_once(gateway: GatewayPort, team: Team, objective: str, settings: EngineSettings,
                    model: str | None = None) -> PlanResult:
    """One plan through the engine's planning path, timed."""
    leader = team.agent(team.leader)
    messages = prompts.plan_messages(leader, team, objective, [], max_subtasks=settings.max_plan_subtasks)
    start = time.perf_counter()
    outcome = await leader_plan(gateway, team, objective, messages=messages,
                                context=CallContext(phase="planning", agent=leader.name), model=model,
                                max_subtasks=settings.max_plan_subtasks, max_tokens=settings.plan_max_tokens)
    return PlanResult(team=team.name, objective=objective, stage=outcome.stage,
                      seconds=time.perf_counter() - start, calls=outcome.calls,
                      subtasks=len(outcome.plan.subtasks), mends=outcome.plan.mends, errors=outcome.errors)


async def bench(gateway: GatewayPort, teams: Sequence[Team], objectives: dict[str, list[str]], per_team: int,
                settings: EngineSettings | None = None,
                on_result: Callable[[int, int, PlanResult], None] | None = None) -> PlanBenchReport:
    settings = settings or EngineSettings()
    jobs = [(team, objective) for team in teams for objective in objectives[team.name][:per_team]]
    results: list[PlanResult] = []
    for i, (team, objective) in enumerate(jobs, start=1):  # one at a time: time per plan is the figure
        results.append(await plan_once(gateway, team, objective, settings))
        if on_result is not None:
            on_result(i, len(jobs), results[-1])
    rows = [StageShares.of(t.name, [r for r in results if r.team == t.name]) for t in teams]
    return PlanBenchReport(model=gateway.resolve(None), teams=rows,
                           overall=StageShares.of("overall", results), results=results)


# ------------------------------------------------------------------ printing


def _pct(count: int, total: int) -> str:
    return f"{100 * count / total:.0f}%" if total else "-"


def table(report: PlanBenchReport) -> str:
    head = (f"{'team':<10} {'plans':>5}  " + "  ".join(f"{STAGE_LABELS[s]:>9}" for s in STAGES)
            + f"  {'usable':>6}  {'s/plan':>7}  {'calls/plan':>10}")
    lines = [head]
    for row in [*report.teams, report.overall]:
        shares = "  ".join(f"{_pct(row.counts[s], row.plans):>9}" for s in STAGES)
        lines.append(f"{row.name:<10} {row.plans:>5}  {shares}  {100 * row.usable:>5.0f}%"
                     f"  {row.seconds_per_plan:>7.1f}  {row.calls_per_plan:>10.1f}")
    return "\n".join(lines)


def progress_line(i: int, n: int, r: PlanResult) -> str:
    objective = r.objective if len(r.objective) <= 60 else r.objective[:57] + "..."
    line = (f"  [{i}/{n}] {r.team:<9} {STAGE_LABELS[r.stage]:<9} {r.subtasks:>2} subtasks"
            f" {r.seconds:6.1f} s  {objective}")
    extra = [f"      mended: {m}" for m in r.mends[:4]] + [f"      problem: {e}" for e in r.errors[:3]]
    if len(r.mends) > 4:
        extra.append(f"      (+{len(r.mends) - 4} more mends)")
    return "\n".join([line, *extra])


async def run(model: str, api_base: str | None, team_names: Sequence[str] | None, per_team: int,
              as_json: bool = False, out: Callable[[str], None] = print) -> PlanBenchReport:
    from podium.llm.gateway import Gateway

    objectives = load_objectives()
    teams = pick_teams(team_names, objectives)
    gateway = Gateway(model, api_base=api_base)
    resolved = await asyncio.to_thread(gateway.prepare)  # bad model, key or script: one line, exit 2
    settings = EngineSettings()
    total = sum(min(per_team, len(objectives[t.name])) for t in teams)
    if not as_json:
        out(f"podium bench plans · model {resolved}{' at ' + api_base if api_base else ''} · "
            f"{total} plans from {len(teams)} team leaders · up to {settings.max_plan_subtasks} subtasks, "
            f"{settings.plan_max_tokens} tokens per reply")

    def show(i: int, n: int, result: PlanResult) -> None:
        if not as_json:
            out(progress_line(i, n, result))

    report = await bench(gateway, teams, objectives, per_team, settings, on_result=show)
    if as_json:
        out(json.dumps(report.model_dump(mode="json"), indent=2))
    else:
        out("")
        out(table(report))
        out("usable = first try + mended + repaired: plans used without the fallback plan")
    return report
