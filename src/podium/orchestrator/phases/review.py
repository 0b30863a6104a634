"""Review: the leader's verdict on every subtask and the result, then the decision.

With review="human" the result waits for the person (`Engine.accept` or
`Engine.rework`); with review="auto" it is accepted once the verdict is
recorded. A pause taken meanwhile holds the decision until the resume.
"""

from __future__ import annotations

import asyncio
from typing import Any

from podium.domain import ExecutionStatus, Message, Phase, Role
from podium.llm.types import BudgetExceeded, CallContext, LLMError
from podium.orchestrator.control import Halted
from podium.orchestrator.deps import AgentDeps
from podium.orchestrator.phases.common import halt, halt_cancels, hold_while_paused, wait_if_paused
from podium.orchestrator.phases.lessons import conclude
from podium.orchestrator.review import review_messages, review_schema, verdict_payload, verdict_text
from podium.orchestrator.runstate import RunState


async def review(deps: AgentDeps, state: RunState, result: str, status: ExecutionStatus, summary: str
                 ) -> None:
    """The leader checks every subtask and the result against their criteria; the verdict is
    recorded, then the result waits for the human (review="human") or is accepted ("auto")."""
    run_id, team, guard, control = state.execution.id, state.team, state.guard, state.control
    settings = deps.settings
    # A pause taken during the synthesis holds the review (another model call) too.
    try:
        async with halt_cancels(control):
            await wait_if_paused(deps, run_id, control, ExecutionStatus.SYNTHESISING)
    except Halted as exc:
        await halt(deps, run_id, guard, str(exc))
        return
    leader = team.agent(team.leader)
    ordered = list(state.subtasks.values())
    message = None
    try:
        draft, reply = await deps.gateway.structured(
            review_messages(leader, state.execution.objective, ordered, result, settings.handoff_chars),
            review_schema(ordered), context=CallContext(execution_id=run_id, phase=Phase.REVIEW.value,
                                                        agent=leader.name),
            guard=guard, model=state.model_for(leader), max_tokens=settings.review_max_tokens)
        verdict = verdict_payload(draft, ordered)
        message = Message(execution_id=run_id, agent=leader.name, role=Role.ASSISTANT, phase=Phase.REVIEW,
                          content=verdict_text(verdict), prompt_tokens=reply.usage.prompt_tokens,
                          completion_tokens=reply.usage.completion_tokens, cost_usd=reply.usage.cost_usd,
                          latency_ms=reply.latency_ms)
    except (BudgetExceeded, LLMError) as exc:
        # The person decides either way; they see why there is no verdict.
        verdict = verdict_payload(None, ordered, error=str(exc))
    auto = settings.review == "auto"
    outcome: dict[str, Any] = {
        "result": result, "verdict": verdict, "status": status if auto else ExecutionStatus.REVIEW,
        "summary": summary if auto else f"awaiting your review: {verdict['overall']}",
        "decided_by": "auto" if auto else None}
    # A pause taken while the review call ran holds: the verdict is recorded now, the result
    # and the status (and, with review="auto", the lessons call) wait for the resume.
    concluded = False
    if auto and not control.paused:  # the result is final now; lessons may learn from the verdict
        await conclude(deps, state.execution, team, guard, ordered, result, notes=verdict_text(verdict))
        concluded = True
    number, settled = await deps.control_repo.add_review(
        run_id, message=message, run_usage=guard.usage, steps=guard.steps, elapsed=guard.elapsed(),
        hold=control.paused or (auto and not concluded), **outcome)
    while not settled:
        try:
            await hold_while_paused(deps, run_id, control)
        except Halted as exc:
            # The verdict stays recorded; a resume synthesises and reviews again.
            await halt(deps, run_id, guard, str(exc))
            return
        if auto and not concluded:
            await conclude(deps, state.execution, team, guard, ordered, result, notes=verdict_text(verdict))
            concluded = True
        settled = await deps.control_repo.settle_review(run_id, number, **outcome)
        if not settled and not control.paused:
            # The file shows a pause this process has not applied yet (its control lands next).
            await asyncio.sleep(0.05)
