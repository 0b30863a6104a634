"""The driving process's side of a living plan: changes applied to the graph it is running.

A change (from the TUI in this process, or a second terminal's `interventions`
row taken up by the watcher) is checked against the in-memory graph, written
in one transaction, and only then applied to the running scheduler's
`LiveGraph` and the run's state, all under the run's plan lock, which the
scheduler's launch gate also takes, so no subtask starts between the check
and the write. A failure to write changes nothing in memory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from podium import events as ev
from podium.domain import ExecutionStatus, PlanAction, PlanChange, ProposalKind, SubtaskStatus
from podium.orchestrator.deps import AgentDeps
from podium.orchestrator.durations import token_cost
from podium.orchestrator.live_graph import LiveGraph
from podium.orchestrator.plan_changes import Effect, agent_notes, plan_effects
from podium.orchestrator.runstate import RunState
from podium.store.plan_changes import GraphWrite, PlanChangeRepository, StatusMove
from podium.store.proposals import ProposalAcceptance, ProposalRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Applied:
    version: int
    summary: str


def graph_write(effect: Effect, *, by: str, source: str) -> GraphWrite:
    """What the store writes for a checked change."""
    c = effect.change
    note = c.note if c.action is PlanAction.RETRY else None
    if c.action is PlanAction.OUTPUT:
        note = "output replaced"
    return GraphWrite(
        action=c.action.value, subtask_id=effect.subtask_id, by=by, source=source,
        definition=effect.definition, insert=effect.insert, output=effect.output,
        moves=[StatusMove(m.subtask_id, m.expected, m.status, m.reason) for m in effect.moves],
        dependents=("proceed" if effect.proceed else "block")
        if c.action in (PlanAction.SKIP, PlanAction.CANCEL) else None,
        note=note, reset=effect.reset, blocked=effect.blocked)


class LiveChanges:
    def __init__(self, deps: AgentDeps, state: RunState, graph: LiveGraph, *, owner: str) -> None:
        self.deps = deps
        self.state = state
        self.graph = graph
        self.owner = owner
        self.repo = PlanChangeRepository(deps.runs.store)

    async def apply(self, change: PlanChange, *, by: str, source: str) -> Applied:
        """Check, write, then change the running graph; PodiumError (nothing changed) if refused.
        An `accept` change makes the changes its pending proposal asks for, by their author."""
        if change.action is PlanAction.ACCEPT:
            proposal = await ProposalRepository(self.repo.store).get(self.state.execution.id,
                                                                     change.proposal or 0)
            source = "leader" if proposal.kind is ProposalKind.REPLAN else "agent"
            return await self.apply_batch(proposal.changes, by=proposal.proposed_by, source=source,
                                          accepted=ProposalAcceptance(by=by, reason=f"accepted by {by}",
                                                                      number=proposal.number))
        return await self.apply_batch([change], by=by, source=source)

    async def apply_batch(self, changes: list[PlanChange], *, by: str, source: str,
                          accepted: ProposalAcceptance | None = None) -> Applied:
        """Several changes as one plan version, in one transaction (with the proposal's decision)."""
        state = self.state
        async with state.plan_lock:
            effects = plan_effects(changes, list(state.subtasks.values()), state.team, driven=True)
            writes = [graph_write(e, by=by, source=source) for e in effects]
            version = await self.repo.apply_batch(state.execution.id, writes, driver=self.owner,
                                                  accepted=accepted)
            for effect, write in zip(effects, writes, strict=True):
                self._apply_in_memory(effect, write, version)
        return Applied(version, "; ".join(e.summary() for e in effects))

    def check(self, changes: list[PlanChange]) -> list[Effect]:
        """What `changes` would do to the running graph now; PodiumError if they cannot be made."""
        return plan_effects(changes, list(self.state.subtasks.values()), self.state.team, driven=True)

    def _apply_in_memory(self, effect: Effect, write: GraphWrite, version: int) -> None:
        """Synchronous: the scheduler sees the whole change at once."""
        state, graph, sid, action = self.state, self.graph, effect.subtask_id, effect.change.action
        if effect.definition is not None:
            if effect.insert:
                state.subtasks[sid] = effect.definition.model_copy()
            else:
                current = state.subtasks[sid]
                for name in ("agent", "description", "depends_on", "acceptance_criteria"):
                    setattr(current, name, getattr(effect.definition, name))
        for move in effect.moves:
            subtask = state.subtasks[move.subtask_id]
            subtask.status = move.status
            if move.status is SubtaskStatus.PENDING:
                subtask.error = None
                state.outputs.pop(move.subtask_id, None)
        if effect.output is not None:
            state.subtasks[sid].output = effect.output
            state.outputs[sid] = effect.output
        change = ev.PlanChanged(action=write.action, subtask_id=sid, by=write.by, version=version,
                                dependents=write.dependents, note=write.note, reset=write.reset)
        for target, notes in agent_notes([change], list(state.subtasks.values())).items():
            state.plan_notes.setdefault(target, []).extend(notes)
        if action is PlanAction.ADD:
            assert effect.definition is not None
            graph.add(sid, list(effect.definition.depends_on),
                      token_cost(effect.definition.estimated_tokens, state.seconds_per_token))
        elif action in (PlanAction.SKIP, PlanAction.CANCEL):
            graph.remove(sid, proceed=effect.proceed)
        else:
            for node in effect.reset:
                graph.reset(node)
            edited = effect.definition
            if action is PlanAction.EDIT and effect.change.after is not None and edited is not None:
                graph.set_deps(sid, list(edited.depends_on))
        graph.wake()


async def say_stuck(deps: AgentDeps, state: RunState, nodes: list[str], note: str | None = None) -> None:
    """Nothing can run until a person changes the plan: say what waits, on the run's status."""
    failed = [n for n in nodes if state.subtasks[n].status is SubtaskStatus.FAILED]
    waiting = [n for n in nodes if n not in failed]
    reason = (f"waiting for you: {', '.join(failed) or 'nothing'} failed"
              + (f" ({', '.join(waiting)} wait on it)" if waiting else "")
              + "; retry, reassign, skip or edit it" + (f"; {note}" if note else ""))
    try:
        await deps.runs.set_status(state.execution.id, ExecutionStatus.RUNNING, reason)
    except Exception:  # only a message; the run goes on waiting either way
        log.warning("recording that run %s waits failed", state.execution.id, exc_info=True)
