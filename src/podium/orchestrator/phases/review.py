"""Review: the leader's verdict on every subtask and the result, then the decision.

While the leader checks, the finished subtasks sit in the board's Review column (status
review); with review="human" they stay there, with the result, until the person decides
(`Engine.accept` or `Engine.rework`). With review="auto" the verdict acts: a failing one sends
the failing subtasks (and what depends on them; none named: only the synthesis) back for
rework with the leader's reasons, at most `review_rounds` times per run; a passing one is
accepted; one still failing after the last round ends the run partial with the unmet criteria
listed in the verdict, never completed. A pause taken meanwhile holds the decision until the
resume.
"""

from __future__ import annotations

import asyncio
from typing import Any

from podium.citations import findings
from podium.domain import ExecutionStatus, Message, Phase, Role, SubtaskStatus
from podium.llm.types import BudgetExceeded, CallContext, LLMError
from podium.orchestrator.board_actions import file_follow_ups
from podium.orchestrator.control import Halted
from podium.orchestrator.deps import AgentDeps
from podium.orchestrator.phases.common import halt, halt_cancels, hold_while_paused, wait_if_paused
from podium.orchestrator.phases.lessons import conclude
from podium.orchestrator.plan_graph import with_dependents
from podium.orchestrator.review import (
    review_messages,
    review_schema,
    rework_feedback,
    unmet_criteria,
    verdict_payload,
    verdict_text,
)
from podium.orchestrator.runstate import RunState
from podium.store.sources import SourceRepository


async def review(deps: AgentDeps, state: RunState, result: str, status: ExecutionStatus, summary: str
                 ) -> bool:
    """The leader checks every subtask and the result against their criteria; the verdict is
    recorded, then the result waits for the human (review="human"), or ("auto") is accepted, or
    is sent back for rework. True: work was sent back (reopened subtasks are pending again in
    `state`; the caller runs them, synthesises and reviews again)."""
    run_id, team, guard, control = state.execution.id, state.team, state.guard, state.control
    settings = deps.settings
    # A pause taken during the synthesis holds the review (another model call) too.
    try:
        async with halt_cancels(control):
            await wait_if_paused(deps, run_id, control, ExecutionStatus.SYNTHESISING)
    except Halted as exc:
        await halt(deps, run_id, guard, str(exc))
        return False
    leader = team.agent(team.leader)
    ordered = list(state.subtasks.values())
    # The finished work awaits the leader's check: the board's Review column.
    await deps.runs.hold_for_review(run_id, [s.id for s in ordered if s.status is SubtaskStatus.DONE])
    message = None
    sources = SourceRepository(deps.runs.store)
    cited = findings({s.id: s.output or "" for s in ordered if s.status is SubtaskStatus.DONE}, result,
                     await sources.for_run(run_id), await sources.checks(run_id))
    try:
        draft, reply = await deps.gateway.structured(
            review_messages(leader, state.execution.objective, ordered, result, settings.handoff_chars,
                            cited.lines()),
            review_schema(ordered), context=CallContext(execution_id=run_id, phase=Phase.REVIEW.value,
                                                        agent=leader.name),
            guard=guard, model=state.model_for(leader), max_tokens=settings.review_max_tokens)
        verdict = verdict_payload(draft, ordered) | cited.payload()
        message = Message(execution_id=run_id, agent=leader.name, role=Role.ASSISTANT, phase=Phase.REVIEW,
                          content=verdict_text(verdict), prompt_tokens=reply.usage.prompt_tokens,
                          completion_tokens=reply.usage.completion_tokens, cost_usd=reply.usage.cost_usd,
                          latency_ms=reply.latency_ms)
    except (BudgetExceeded, LLMError) as exc:
        # The person decides either way; they see why there is no verdict.
        verdict = verdict_payload(None, ordered, error=str(exc)) | cited.payload()
    # Work the leader saw for later goes to the project board's Backlog, not into the verdict.
    await file_follow_ups(deps, run_id, leader.name, team.name, verdict.pop("follow_ups", []))
    auto = settings.review == "auto"
    if auto and verdict.get("ok") is False:
        if await deps.control_repo.leader_reworks(run_id) < settings.review_rounds:
            return await _send_back(deps, state, result, verdict, message)
        # No rounds left: the run ends partial, the unmet criteria listed with the verdict.
        verdict["unmet"] = unmet_criteria(verdict, ordered)
        status = ExecutionStatus.PARTIAL
        rounds = settings.review_rounds
        summary = f"{summary}; criteria unmet after {rounds} rework round{'' if rounds == 1 else 's'}: " + \
            "; ".join(verdict["unmet"])
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
            return False
        if auto and not concluded:
            await conclude(deps, state.execution, team, guard, ordered, result, notes=verdict_text(verdict))
            concluded = True
        settled = await deps.control_repo.settle_review(run_id, number, **outcome)
        if not settled and not control.paused:
            # The file shows a pause this process has not applied yet (its control lands next).
            await asyncio.sleep(0.05)
    return False


async def _send_back(deps: AgentDeps, state: RunState, result: str, verdict: dict[str, Any],
                     message: Message | None) -> bool:
    """A failing verdict with rework rounds left: recorded, then (after any pause) the failing
    subtasks and their dependents go back to pending with the leader's reasons."""
    run_id, guard, control = state.execution.id, state.guard, state.control
    number, _ = await deps.control_repo.add_review(
        run_id, message=message, run_usage=guard.usage, steps=guard.steps, elapsed=guard.elapsed(),
        result=result, verdict=verdict, status=ExecutionStatus.RUNNING, summary=None, decided_by=None,
        hold=True)
    try:
        await hold_while_paused(deps, run_id, control)
    except Halted as exc:
        # The verdict stays recorded, undecided; a resume synthesises and reviews again.
        await halt(deps, run_id, guard, str(exc))
        return False
    failing = [v["subtask_id"] for v in verdict["verdicts"] if not v["ok"]]
    order = list(state.subtasks)
    reopen = with_dependents(failing, order, {sid: s.depends_on for sid, s in state.subtasks.items()})
    await deps.control_repo.leader_rework(run_id, number, feedback=rework_feedback(verdict), subtasks=failing,
                                          reopen=[state.subtasks[i] for i in reopen])
    for sid in reopen:
        state.subtasks[sid].status = SubtaskStatus.PENDING
    return True
