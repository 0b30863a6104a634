"""Plans: the leader's structured output schema, validation, and the fallback plan.

The schema is deliberately tight (enum of agent names, maxLength, maxItems):
a small local model under constrained decoding degenerates on loose
schemas, and a tight one also keeps hosted models honest.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from pydantic.json_schema import SkipJsonSchema

from podium.domain import Plan, Subtask, Team
from podium.orchestrator.plan_agents import Roster
from podium.orchestrator.plan_graph import find_cycle
from podium.orchestrator.plan_mend import (
    CRITERIA_MAX,
    CRITERION_MAX,
    DEPENDS_MAX,
    DESCRIPTION_MAX,
    ID_MAX,
    ID_PATTERN,
    RATIONALE_MAX,
    TOKENS_MAX,
    TOOL_MAX,
    TOOL_PATTERN,
    TOOLS_MAX,
    mend_plan,
)

StepId = Annotated[str, Field(max_length=ID_MAX, pattern=ID_PATTERN)]
ToolName = Annotated[str, Field(max_length=TOOL_MAX, pattern=TOOL_PATTERN)]
Criterion = Annotated[str, Field(max_length=CRITERION_MAX)]


class PlanStepBase(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PlanDraftBase(BaseModel):
    model_config = ConfigDict(extra="ignore")
    # What mending changed in the reply before it validated (plan_mend.py); not part of the
    # JSON schema the model sees, and whatever the model writes here is replaced.
    mends: SkipJsonSchema[list[str]] = Field(default_factory=list, exclude=True)


@lru_cache(maxsize=64)
def _schema_for(roster: Roster, max_subtasks: int) -> type[PlanDraftBase]:
    agent_type: Any = Literal[roster.names]  # type: ignore[valid-type]
    step = create_model(
        "PlanStep",
        __base__=PlanStepBase,
        id=(str, Field(max_length=ID_MAX, pattern=ID_PATTERN, description="short id like t1")),
        agent=(agent_type, Field(description="the team member who does it")),
        description=(str, Field(min_length=1, max_length=DESCRIPTION_MAX)),
        depends_on=(list[StepId], Field(default_factory=list, max_length=DEPENDS_MAX)),
        acceptance_criteria=(list[Criterion], Field(default_factory=list, max_length=CRITERIA_MAX)),
        estimated_tokens=(int, Field(default=1500, ge=0, le=TOKENS_MAX)),
        tools=(list[ToolName], Field(default_factory=list, max_length=TOOLS_MAX)),
    )

    def mend(cls: type[BaseModel], data: Any) -> Any:
        mended, notes = mend_plan(data, roster, max_subtasks)
        return {**mended, "mends": notes} if isinstance(mended, dict) else mended

    return create_model(
        "PlanDraft",
        __base__=PlanDraftBase,
        __validators__={"mend": model_validator(mode="before")(mend)},  # type: ignore[dict-item]
        rationale=(str, Field(default="", max_length=RATIONALE_MAX)),
        subtasks=(list[step], Field(min_length=1, max_length=max_subtasks)),  # type: ignore[valid-type]
    )


def plan_schema(team: Team, max_subtasks: int = 12) -> type[PlanDraftBase]:
    """The pydantic model the leader must fill: agent names are an enum of this team's.

    Validating a reply mends it first (plan_mend.py): the instance's `mends` say what changed.
    """
    return _schema_for(Roster.of(team), max_subtasks)


def draft_to_plan(draft: BaseModel) -> Plan:
    data = draft.model_dump()
    subtasks = []
    for s in data["subtasks"]:
        criteria = [c.strip()[:CRITERION_MAX] for c in s.get("acceptance_criteria", []) if c and c.strip()]
        subtasks.append(Subtask(
            id=s["id"], agent=s["agent"], description=s["description"].strip() or s["id"],
            depends_on=list(s.get("depends_on", [])), acceptance_criteria=criteria,
            estimated_tokens=s.get("estimated_tokens", 1500), tools=list(s.get("tools", [])),
        ))
    mends = list(getattr(draft, "mends", []))
    return Plan(subtasks=subtasks, rationale=data.get("rationale", ""), mends=mends)


def validate_plan(plan: Plan, team: Team) -> list[str]:
    """Every problem with a plan, as sentences the leader can act on. Empty: valid."""
    errors: list[str] = []
    if not plan.subtasks:
        return ["the plan has no subtasks; give at least one"]
    ids = [s.id for s in plan.subtasks]
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            errors.append(f"duplicate subtask id {i!r}; every id must be unique")
        seen.add(i)
    for s in plan.subtasks:
        if not re.match(ID_PATTERN, s.id):
            errors.append(f"subtask id {s.id!r} must be short lowercase letters/digits like t1")
        if s.agent not in team.agent_names:
            errors.append(
                f"subtask {s.id} is assigned to unknown agent {s.agent!r}; "
                f"choose one of: {', '.join(team.agent_names)}"
            )
        for d in s.depends_on:
            if d == s.id:
                errors.append(f"subtask {s.id} depends on itself")
            elif d not in seen:
                errors.append(f"subtask {s.id} depends on unknown subtask {d!r}")
    cycle = find_cycle({s.id: [d for d in s.depends_on if d in seen and d != s.id] for s in plan.subtasks})
    if cycle:
        errors.append(f"dependency cycle: {' -> '.join(cycle)}; dependencies must form a DAG")
    return errors


def fallback_plan(objective: str, team: Team) -> Plan:
    """A deterministic plan that always validates.

    The first agent (in team order) gathers, the middle ones work in
    parallel from that, the last one assembles everything. The leader is
    included like any member, since it is a specialist too.
    """
    agents = team.agents
    short = objective if len(objective) <= 200 else objective[:197] + "..."
    subtasks: list[Subtask] = []
    first = agents[0]
    subtasks.append(Subtask(
        id="t1", agent=first.name, description=f"As {first.role}: gather what is needed for: {short}",
        acceptance_criteria=["covers the key facts and inputs the others need"],
    ))
    middle = agents[1:-1]
    for i, agent in enumerate(middle, start=2):
        subtasks.append(Subtask(
            id=f"t{i}", agent=agent.name, depends_on=["t1"],
            description=f"As {agent.role}: contribute your part to: {short}",
            acceptance_criteria=["builds on t1 and stays on the objective"],
        ))
    if len(agents) > 1:
        last = agents[-1]
        deps = [s.id for s in subtasks[1:]] or ["t1"]
        subtasks.append(Subtask(
            id=f"t{len(subtasks) + 1}", agent=last.name, depends_on=deps,
            description=f"As {last.role}: combine the work so far into the deliverable for: {short}",
            acceptance_criteria=["uses every earlier output", "answers the objective directly"],
        ))
    return Plan(subtasks=subtasks, rationale="Fallback plan: the leader's plan was not usable.")


def describe_plan(plan: Plan) -> str:
    """A compact text rendering, for prompts (a rejected plan) and the terminal."""
    lines = []
    for s in plan.subtasks:
        deps = f" (after {', '.join(s.depends_on)})" if s.depends_on else ""
        lines.append(f"- {s.id} [{s.agent}]{deps}: {s.description}")
    return "\n".join(lines)
