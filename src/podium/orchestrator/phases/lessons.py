"""The run's conclusion: its result and the leader's lessons go to long-term memory."""

from __future__ import annotations

import logging

from podium import events as ev
from podium.domain import Execution, Phase, Subtask, Team
from podium.errors import PodiumError
from podium.llm.types import BudgetExceeded, CallContext, LLMError
from podium.orchestrator.deps import AgentDeps
from podium.orchestrator.lessons import (
    LESSONS_PHASE,
    fallback_lessons,
    lessons_messages,
    lessons_of,
    lessons_schema,
    lessons_text,
)
from podium.orchestrator.phases.common import store_reply
from podium.orchestrator.runstate import RunGuard

log = logging.getLogger(__name__)


async def conclude(deps: AgentDeps, execution: Execution, team: Team, guard: RunGuard,
                   subtasks: list[Subtask], result: str | None, *, notes: str | None = None) -> None:
    """The run is ending: its final result (project-wide) and the leader's lessons (per agent
    and project) go to long-term memory, and the lessons to the transcript as a leader message
    in phase synthesis (also after a review: it is the leader's closing word on the run, and
    `podium show` lists synthesis messages).

    Called just before the run's final status is written (that stays its last event).
    Best effort: the run ends whatever happens here. The lessons are one leader call
    against a tight schema, counted against the budget like every call; if it fails or the
    budget is spent, an event says why and the failed subtasks' errors are kept instead.
    """
    memory = deps.memory
    if memory is None:
        return
    run_id = execution.id
    if result and result.strip():
        try:
            await memory.remember_result(text=result, execution_id=run_id)
        except Exception:  # memory is an aid; the run has its result regardless
            log.exception("remembering the result of %s failed", run_id)
    lessons: list[tuple[str | None, str]] = []
    reason: str | None = None
    if not deps.settings.lessons:
        reason = "lessons are turned off"
    else:
        leader = team.agent(team.leader)
        try:
            draft, reply = await deps.gateway.structured(
                lessons_messages(leader, execution.objective, subtasks, result, notes),
                lessons_schema(team.agent_names),
                context=CallContext(execution_id=run_id, phase=LESSONS_PHASE, agent=leader.name),
                guard=guard, model=execution.model_for(leader, team),
                max_tokens=deps.settings.lessons_max_tokens)
            lessons = lessons_of(draft)
            await store_reply(deps, run_id, leader.name, Phase.SYNTHESIS, reply, guard,
                              content=lessons_text(lessons))
        except BudgetExceeded as exc:
            reason = f"budget exhausted: {exc}"
        except LLMError as exc:
            reason = f"the leader's lessons call failed: {exc}"
        except PodiumError as exc:  # e.g. no model configured where the run is accepted
            reason = f"the leader's lessons call could not be made: {exc}"
        except Exception as exc:  # the run has ended; nothing here may take it down
            log.exception("lessons for %s failed", run_id)
            reason = f"internal error: {exc!r}"
        if reason is not None:
            # Calls that failed still cost tokens: the run's totals say so.
            await deps.runs.record_usage(run_id, guard.usage, guard.steps, guard.elapsed())
    if reason is not None:
        lessons = fallback_lessons(subtasks)
        await deps.runs.emit(run_id, ev.MEMORY_LESSONS_SKIPPED, reason=reason, fallback=len(lessons))
    if lessons:
        try:
            await memory.remember_lessons(lessons=lessons, execution_id=run_id)
        except Exception:
            log.exception("storing the lessons of %s failed", run_id)
