"""Replanning the unfinished part of a running plan (`--on-failure replan`).

When a subtask failed and nothing else can run (the scheduler's `on_stuck`),
the leader writes a new plan for what is not finished, in one structured call
(phase "replan", which a scripted model can match). Finished work is not the
leader's to change: done, skipped and cancelled subtasks (and any waiting on a
person) are given to it as fixed, put back into its reply before mending if it
left them out, and kept byte-for-byte whatever it says about them. The reply is
mended and validated like any plan (plan_mend.py, planning.validate_plan), then
turned into live-graph changes: new ids are added, kept ids edited (or retried,
if failed and unchanged), unfinished ids it left out are skipped. Those changes
are one proposal (kind replan): with the run's plans approved up front (--yes)
they are applied at once, in one transaction with the proposal, as one new plan
version by the leader; otherwise the proposal waits for a person
(`podium task proposals RUN --accept N`, the run screen). At most `max_replans`
per run; beyond that, or if the leader's reply is unusable, a failure waits for a
person as without replanning. A kill during the call loses only the call: the
next session is stuck the same way and asks again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, create_model, model_validator

from podium.domain import (
    ExecutionStatus,
    Phase,
    PlanAction,
    PlanChange,
    ProposalKind,
    ProposalStatus,
    Subtask,
    SubtaskStatus,
    Team,
)
from podium.errors import PodiumError
from podium.llm.types import BudgetExceeded, CallContext, LLMError
from podium.orchestrator.context import clip
from podium.orchestrator.control import Halted
from podium.orchestrator.deps import AgentDeps
from podium.orchestrator.phases.common import halt_cancels, store_reply
from podium.orchestrator.planning import draft_to_plan, plan_schema, validate_plan
from podium.orchestrator.runstate import RunState
from podium.orchestrator.scheduler import StopRun
from podium.store.proposals import NewProposal, ProposalAcceptance, ProposalRepository

log = logging.getLogger(__name__)

CHANGEABLE = (SubtaskStatus.PENDING, SubtaskStatus.FAILED, SubtaskStatus.BLOCKED)


@dataclass(frozen=True)
class Replanned:
    applied: bool  # the graph changed: the scheduler goes on
    note: str  # what happened, one line (for the run's status and the log)


def replan_schema(team: Team, fixed: list[Subtask], max_subtasks: int) -> type[BaseModel]:
    """The plan schema, with the fixed subtasks put back into a reply that left them out before
    it is mended (so dependencies on finished work survive mending)."""
    base = plan_schema(team, max_subtasks + len(fixed))
    kept = [{"id": s.id, "agent": s.agent, "description": s.description, "depends_on": list(s.depends_on)}
            for s in fixed]

    def keep_fixed(cls: type[BaseModel], data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("subtasks"), list):
            given = {s.get("id") for s in data["subtasks"] if isinstance(s, dict)}
            data = {**data, "subtasks": [k for k in kept if k["id"] not in given] + data["subtasks"]}
        return data

    return create_model("ReplanDraft", __base__=base,  # type: ignore[no-any-return]
                        __validators__={"keep_fixed": model_validator(mode="before")(keep_fixed)},  # type: ignore[dict-item]
                        )


def replan_messages(state: RunState, stuck: list[str], handoff_chars: int) -> list[dict[str, Any]]:
    team = state.team
    leader = team.agent(team.leader)
    lines = [f"Objective: {state.execution.objective}", "", "The plan as it stands:"]
    for s in state.subtasks.values():
        deps = f" (after {', '.join(s.depends_on)})" if s.depends_on else ""
        lines.append(f"- {s.id} [{s.agent}, {s.status.value}]{deps}: {clip(s.description, 200)}")
        if s.status is SubtaskStatus.DONE and s.output:
            lines.append(f"  output: {clip(s.output, max(120, handoff_chars // 8))}")
        if s.status is SubtaskStatus.FAILED and s.error:
            lines.append(f"  failed: {clip(s.error, 240)}")
    lines += ["", f"The work is stuck: {', '.join(stuck)} cannot go on as planned.",
              "Write a new plan for the unfinished part. Subtasks that are done, skipped or cancelled "
              "stay as they are (you may depend on them by id). Keep an unfinished subtask by giving "
              "its id (change its description, agent or dependencies if that helps), add new subtasks "
              "with new ids, and leave out those no longer needed. Reply with the JSON object only."]
    system = leader.system_prompt() + " You lead the team; the plan must still reach the objective."
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]


def replan_changes(new: list[Subtask], current: list[Subtask], note: str) -> list[PlanChange]:
    """The live-graph changes that turn the unfinished part of `current` into `new`: adds (in plan
    order, so each comes after what it depends on), edits and retries, then skips."""
    by_id = {s.id: s for s in current}
    adds: list[PlanChange] = []
    edits: list[PlanChange] = []
    kept: set[str] = set()
    for s in new:
        old = by_id.get(s.id)
        if old is None:
            adds.append(PlanChange(action=PlanAction.ADD, subtask_id=s.id, description=s.description,
                                   agent=s.agent, after=list(s.depends_on),
                                   criteria=list(s.acceptance_criteria) or None))
            continue
        if old.status not in CHANGEABLE:
            continue  # finished (or in a person's hands): kept as it is
        kept.add(s.id)
        changed: dict[str, Any] = {}
        if s.description != old.description:
            changed["description"] = s.description
        if s.agent != old.agent:
            changed["agent"] = s.agent
        if list(s.depends_on) != list(old.depends_on):
            changed["after"] = list(s.depends_on)
        if s.acceptance_criteria and s.acceptance_criteria != old.acceptance_criteria:  # none given: kept
            changed["criteria"] = list(s.acceptance_criteria)
        if changed:
            edits.append(PlanChange(action=PlanAction.EDIT, subtask_id=s.id, **changed))
        elif old.status is not SubtaskStatus.PENDING:
            edits.append(PlanChange(action=PlanAction.RETRY, subtask_id=s.id, note=note))
    skips = [PlanChange(action=PlanAction.SKIP, subtask_id=s.id, dependents="proceed")
             for s in current if s.status in CHANGEABLE and s.id not in kept]
    return adds + edits + skips


def describe_changes(changes: list[PlanChange]) -> str:
    words = {PlanAction.ADD: "add", PlanAction.EDIT: "change", PlanAction.RETRY: "retry",
             PlanAction.SKIP: "drop"}
    parts = []
    for c in changes:
        what = f"{words.get(c.action, c.action.value)} {c.subtask_id}"
        if c.action is PlanAction.ADD:
            what += f" ({c.agent}: {clip(c.description or '', 60)})"
        parts.append(what)
    return "; ".join(parts)


async def replan(deps: AgentDeps, state: RunState, stuck: list[str]) -> Replanned:
    """The leader replans the unfinished part, bounded per run; see the module docstring.
    Raises StopRun on a halt or an exhausted budget during the call."""
    settings, run_id, live = deps.settings, state.execution.id, state.live
    repo = ProposalRepository(deps.runs.store)
    made = await repo.count(run_id, ProposalKind.REPLAN)
    if live is None:
        return Replanned(False, "the plan cannot change now")
    if made >= settings.max_replans:
        return Replanned(False, f"no replan left ({made} of {settings.max_replans} made)")
    pending = [p for p in await repo.list(run_id, ProposalStatus.PENDING) if p.kind is ProposalKind.REPLAN]
    if pending:
        return Replanned(False, f"the leader's replan #{pending[0].number} awaits your approval: "
                                f"`podium task proposals {run_id} --accept {pending[0].number}`")
    team, leader = state.team, state.team.agent(state.team.leader)
    current = list(state.subtasks.values())
    fixed = [s for s in current if s.status not in CHANGEABLE]
    await deps.runs.set_status(run_id, ExecutionStatus.RUNNING,
                               f"the leader is replanning: {', '.join(stuck)} cannot go on")
    try:
        async with halt_cancels(state.control):
            draft, reply = await deps.gateway.structured(
                replan_messages(state, stuck, settings.handoff_chars),
                replan_schema(team, fixed, settings.max_plan_subtasks),
                context=CallContext(execution_id=run_id, phase=Phase.REPLAN.value, agent=leader.name),
                guard=state.guard, model=state.model_for(leader), max_tokens=settings.replan_max_tokens)
    except (Halted, BudgetExceeded) as exc:
        raise StopRun(str(exc)) from None
    except LLMError as exc:
        log.warning("replanning run %s failed: %s", run_id, exc)
        return Replanned(False, f"the leader could not replan ({clip(str(exc), 120)})")
    candidate = draft_to_plan(draft)
    await store_reply(deps, run_id, leader.name, Phase.REPLAN, reply, state.guard,
                      content=f"Replan: {candidate.rationale or 'a new plan for the unfinished part'}")
    rationale = candidate.rationale.strip() or "the leader replanned the unfinished part"
    changes: list[PlanChange] = []
    problem = "; ".join(validate_plan(candidate, team)[:3])
    if not problem:
        changes = replan_changes(candidate.subtasks, current, f"the leader replanned: {rationale}")
        problem = "" if changes else "it changes nothing"
    if not problem:
        try:
            live.check(changes)
        except PodiumError as exc:
            problem = str(exc)
    new = NewProposal(ProposalKind.REPLAN, proposed_by=leader.name, changes=changes,
                      summary=describe_changes(changes) or "no change", reason=rationale)
    if problem:
        await repo.add_declined(run_id, new, by="podium", reason=f"not a usable plan: {problem}")
        return Replanned(False, f"the leader's replan was not usable ({clip(problem, 160)})")
    if not settings.approve_plans:
        number = await repo.add(run_id, new)
        return Replanned(False, f"the leader's replan #{number} awaits your approval: "
                                f"`podium task proposals {run_id} --accept {number}`")
    try:
        accepted = ProposalAcceptance(by="auto", reason="plans are approved up front (--yes)", new=new)
        applied = await live.apply_batch(changes, by=leader.name, source="leader", accepted=accepted)
    except PodiumError as exc:
        await repo.add_declined(run_id, new, by="podium", reason=f"could not be applied: {exc}")
        return Replanned(False, f"the leader's replan could not be applied ({clip(str(exc), 160)})")
    return Replanned(True, f"replanned (plan v{applied.version}): {applied.summary}")
