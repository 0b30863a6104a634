"""Synthesis: the leader turns the subtasks' outputs into the run's final result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from podium.citations import cited_numbers, with_references
from podium.domain import ExecutionStatus, Phase, Subtask, SubtaskStatus
from podium.llm.types import BudgetExceeded, CallContext, LLMError
from podium.orchestrator import context as prompts
from podium.orchestrator.control import Halted
from podium.orchestrator.deps import AgentDeps
from podium.orchestrator.phases.common import halt, halt_cancels, store_reply, wait_if_paused
from podium.orchestrator.runstate import RunState
from podium.store.sources import SourceRepository


@dataclass(frozen=True)
class Synthesis:
    """The leader's result, and the status the run ends with once it is accepted."""

    text: str
    status: ExecutionStatus


async def synthesise(deps: AgentDeps, state: RunState) -> Synthesis | None:
    """One leader call over the finished subtasks' outputs (at least one finished); None if the
    run was halted meanwhile (recorded, resumable: a resume only re-runs the synthesis)."""
    run_id, team, guard, settings = state.execution.id, state.team, state.guard, deps.settings
    ordered = list(state.subtasks.values())
    results = [(s, state.outputs[s.id]) for s in ordered if s.status is SubtaskStatus.DONE]
    missing = [s for s in ordered if s.status is not SubtaskStatus.DONE]
    leader = team.agent(team.leader)
    sources = await SourceRepository(deps.runs.store).for_run(run_id)
    messages = prompts.synthesis_messages(leader, state.execution.objective, results, missing,
                                          settings.handoff_chars, sources=bool(sources))
    if state.synthesis_feedback is not None:
        feedback, previous = state.synthesis_feedback
        messages[-1]["content"] += (
            f"\n\nThe review sent your previous result back with this feedback: {feedback}\n"
            f"Your previous result:\n{prompts.clip(previous, settings.handoff_chars)}\n"
            "Write the improved result.")
    try:
        async with halt_cancels(state.control):
            await wait_if_paused(deps, run_id, state.control, ExecutionStatus.SYNTHESISING)
            reply = await deps.gateway.complete(
                messages, context=CallContext(execution_id=run_id, phase=Phase.SYNTHESIS.value,
                                              agent=leader.name),
                guard=guard, model=state.model_for(leader),
                on_delta=deps.publish(run_id, leader.name, None, Phase.SYNTHESIS),
                max_tokens=settings.synthesis_max_tokens,
            )
    except (BudgetExceeded, LLMError, Halted) as exc:
        # Resumable: every subtask output is kept; resume only re-runs the synthesis.
        why = str(exc) if isinstance(exc, Halted) else f"synthesis stopped: {exc}"
        await halt(deps, run_id, guard, why)
        return None
    await store_reply(deps, run_id, leader.name, Phase.SYNTHESIS, reply, guard)
    text = reply.content.strip() or "\n\n".join(out for _, out in results)
    if sources or cited_numbers(text):
        # The references come from what the team recorded, never from the model's memory; a
        # citation no recorded source answers is listed as such.
        text = with_references(text, sources, also_cited=[out for _, out in results])
    return Synthesis(text, ExecutionStatus.PARTIAL if missing else ExecutionStatus.COMPLETED)


def summary(subtasks: Sequence[Subtask]) -> str:
    """How many subtasks ended in each status, e.g. "3 done, 1 failed"."""
    counts: dict[str, int] = {}
    for s in subtasks:
        counts[s.status.value] = counts.get(s.status.value, 0) + 1
    text = ", ".join(f"{n} {status}" for status, n in counts.items())
    # The living plan: a failure leaves its dependents waiting, for a person to act on.
    waiting = [s.id for s in subtasks if s.status in (SubtaskStatus.FAILED, SubtaskStatus.PENDING,
                                                      SubtaskStatus.BLOCKED)]
    if waiting:
        text += (f"; waiting: {', '.join(waiting)} (retry, skip or edit with `podium task`, "
                 "then `podium resume`)")
    return text
