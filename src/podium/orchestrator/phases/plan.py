"""Discussion and planning: each specialist's perspective, then the leader's validated plan."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from podium import events as ev
from podium.domain import Execution, Message, Phase, Plan, PlanStatus, Team
from podium.llm.types import CallContext, CallResult, LLMError
from podium.orchestrator import context as prompts
from podium.orchestrator.control import RunControl
from podium.orchestrator.deps import AgentDeps
from podium.orchestrator.leader_plan import leader_plan
from podium.orchestrator.phases.common import store_reply
from podium.orchestrator.planning import describe_plan
from podium.orchestrator.runstate import RunGuard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanProposal:
    version: int
    plan: Plan
    fallback: bool
    errors: list[str]


async def discuss(deps: AgentDeps, control: RunControl, execution: Execution, team: Team, guard: RunGuard
                  ) -> list[Message]:
    """Each specialist's perspective, in turn (those already stored are kept)."""
    done = await deps.runs.messages(execution.id, phase=Phase.DISCUSSION)
    if not deps.settings.discussion:
        return done
    spoken = {m.agent for m in done}
    for agent in team.specialists:
        if agent.name in spoken:  # resumed after a crash mid-discussion
            continue
        await control.wait_running()
        messages = prompts.perspective_messages(agent, team, execution.objective, done)
        try:
            result = await deps.gateway.complete(
                messages, context=CallContext(execution_id=execution.id, phase=Phase.DISCUSSION.value,
                                              agent=agent.name),
                guard=guard, model=execution.model_for(agent, team),
                on_delta=deps.publish(execution.id, agent.name, None, Phase.DISCUSSION),
                max_tokens=deps.settings.perspective_max_tokens,
            )
        except LLMError as exc:
            # A missing perspective is a pity, not a reason to stop planning.
            log.warning("perspective of %s failed: %s", agent.name, exc)
            continue
        message = await store_reply(deps, execution.id, agent.name, Phase.DISCUSSION, result, guard,
                                    extra=(ev.DISCUSSION_CONTRIBUTION, {"agent": agent.name,
                                                                        "content": result.content}))
        done.append(message)
    return done


async def propose_plan(deps: AgentDeps, execution: Execution, team: Team, guard: RunGuard,
                       discussion: list[Message], feedback: str | None) -> PlanProposal:
    """The leader's plan (validated, mended, or a fallback), stored as the next version."""
    leader = team.agent(team.leader)
    settings = deps.settings
    rejected = [(p.plan, p.feedback or "") for p in await deps.runs.plans(execution.id)
                if p.status is PlanStatus.REJECTED]
    messages = prompts.plan_messages(leader, team, execution.objective, discussion,
                                     max_subtasks=settings.max_plan_subtasks,
                                     rejected=rejected, feedback=feedback)

    async def on_reply(result: CallResult, candidate: Plan, errors: list[str]) -> None:
        await store_reply(deps, execution.id, leader.name, Phase.PLANNING, result, guard,
                          content=plan_text(candidate, errors))

    async def on_failure() -> None:
        await deps.runs.record_usage(execution.id, guard.usage, guard.steps, guard.elapsed())

    outcome = await leader_plan(
        deps.gateway, team, execution.objective, messages=messages,
        context=CallContext(execution_id=execution.id, phase=Phase.PLANNING.value, agent=leader.name),
        guard=guard, model=execution.model_for(leader, team),
        max_subtasks=settings.max_plan_subtasks, max_tokens=settings.plan_max_tokens,
        on_reply=on_reply, on_failure=on_failure)
    version = await deps.runs.add_plan(execution.id, outcome.plan, fallback=outcome.fallback,
                                       errors=outcome.errors, feedback=feedback)
    return PlanProposal(version, outcome.plan, outcome.fallback, outcome.errors)


def plan_text(plan: Plan, errors: list[str]) -> str:
    """The leader's plan as a transcript message."""
    text = f"Plan:\n{describe_plan(plan)}"
    if plan.rationale:
        text += f"\nRationale: {plan.rationale}"
    if plan.mends:
        text += "\nMended: " + "; ".join(plan.mends)
    if errors:
        text += "\nProblems: " + "; ".join(errors)
    return text
