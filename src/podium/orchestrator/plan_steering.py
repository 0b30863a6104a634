"""Changing a run's live graph from any process: `podium task ...`, and the TUI on a run it
does not drive.

Like steering.py: when a live process drives the run, the change is posted as
a pending `plan_change` intervention (its payload a validated `PlanChange`
as JSON); that process's watcher applies it to its running graph and
records the outcome on the row's `intervention.applied` event, which this
side waits for and reports. When nobody drives the run, the change is
written to the file directly (a run that had ended with work waiting goes
back to halted: `podium resume` carries on). Either way the change is first
checked against the graph as the file holds it: bad input is one line,
exit 2, nothing written.
"""

from __future__ import annotations

from podium.domain import (
    Execution,
    ExecutionStatus,
    InterventionKind,
    PlanAction,
    PlanChange,
    ProposalKind,
    ProposalStatus,
)
from podium.errors import PodiumError
from podium.orchestrator.phases.live_changes import graph_write
from podium.orchestrator.plan_changes import plan_effects
from podium.orchestrator.steering import APPLY_WAIT_S, Steered, Steering
from podium.store.plan_changes import PlanChangeRepository
from podium.store.project import ProjectStore
from podium.store.proposals import ProposalAcceptance, ProposalRepository


class PlanSteering(Steering):
    def __init__(self, store: ProjectStore, *, source: str = "cli", wait_s: float = APPLY_WAIT_S) -> None:
        super().__init__(store, source=source, wait_s=wait_s)
        self.changes = PlanChangeRepository(store)

    async def change(self, run_ref: str, change: PlanChange, *, by: str = "user") -> Steered:
        execution = await self.repo.get_execution(run_ref)
        run_id = execution.id
        subtasks = await self.repo.subtasks(run_id)
        _changeable(execution, bool(subtasks))
        owner = await self.repo.live_owner(run_id)
        team = await self.repo.get_team(run_id)
        accepted: ProposalAcceptance | None = None
        author, source, changes = by, self.source, [change]
        if change.action is PlanAction.ACCEPT:
            proposal = await ProposalRepository(self.store).get(run_id, change.proposal or 0)
            if proposal.status is not ProposalStatus.PENDING:
                raise PodiumError(f"proposal {proposal.number} was already {proposal.status.value}"
                                  + (f" by {proposal.decided_by}" if proposal.decided_by else ""))
            accepted = ProposalAcceptance(by=by, reason=f"accepted by {by}", number=proposal.number)
            author, changes = proposal.proposed_by, proposal.changes
            source = "leader" if proposal.kind is ProposalKind.REPLAN else "agent"
        effects = plan_effects(changes, subtasks, team, driven=owner is not None)
        summary = "; ".join(e.summary() for e in effects)
        if owner is None:
            reopen = (f"plan changed by {by} after the run ended {execution.status.value}; "
                      f"`podium resume {run_id}` carries on") if execution.status.finished else None
            version = await self.changes.apply_batch(
                run_id, [graph_write(e, by=author, source=source) for e in effects], driver=None,
                reopen=reopen, accepted=accepted)
            return Steered(f"{summary} (plan v{version}); no process is running run {run_id}: "
                           f"`podium resume {run_id}` carries on")
        iid = await self.repo.add_intervention(run_id, InterventionKind.PLAN_CHANGE,
                                               text=change.model_dump_json(exclude_none=True),
                                               subtask_id=effects[0].subtask_id if effects else None,
                                               source=self.source)
        latency = await self.control.wait_consumed(iid, self.wait_s)
        if latency is None:
            return Steered(f"change sent to run {run_id}; its process ({owner}) has not taken it up yet "
                           "(it applies it at its next poll if it is still running)")
        applied, reason = await self.control.outcome(run_id, iid)
        if not applied:
            raise PodiumError(f"run {run_id}'s process ({owner}) refused the change: {reason}")
        return Steered(f"{reason} (applied by {owner} after {latency:.2f}s)", latency_s=latency)


def _changeable(execution: Execution, has_plan: bool) -> None:
    run_id, status = execution.id, execution.status
    if not has_plan:
        raise PodiumError(f"run {run_id} has no approved plan yet ({status.value}); before approval, "
                          f"edit the proposed plan with `podium plan edit {run_id}`")
    if status is ExecutionStatus.COMPLETED:
        raise PodiumError(f"run {run_id} is completed; nothing to change")
    if status is ExecutionStatus.REVIEW:
        raise PodiumError(f"run {run_id} awaits your review: `podium review {run_id} --rework \"...\" "
                          "--subtask ID` sends work back")
