"""`propose_subtask`: an agent asks for a new subtask in the run it works in.

The proposal is checked against the live graph first (a known agent, known
dependencies, no cycle); a bad one is refused with the reason and nothing is
stored. Then the run's policy (`--proposals`) decides:

- auto: accepted at once, applied as a live change whose author is the agent;
- leader: the leader decides in one structured call (accept or decline, with a
  reason; phase "proposal", which a scripted model can match); an accepted one
  is applied like auto, by the agent, accepted by the leader;
- human: it stays pending for a person (`podium task proposals RUN --accept N`, or the
  run screen's keys); the agent carries on meanwhile.

Proposals are rows (store/proposals.py) with who decided and why; the agent is
told the outcome. At most `max_proposals` per run: beyond it the agent is told no.
A leader call that fails leaves the proposal pending for a person.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from podium.domain import Phase, PlanAction, PlanChange, ProposalKind, Subtask
from podium.errors import PodiumError
from podium.llm.types import CallContext, LLMError
from podium.orchestrator.actions import ActionContext, ActionRegistry, ActionResult, ActionSpec, _text_arg
from podium.orchestrator.context import clip
from podium.orchestrator.deps import AgentDeps
from podium.orchestrator.phases.common import store_reply
from podium.orchestrator.phases.live_changes import LiveChanges
from podium.orchestrator.runstate import RunState
from podium.orchestrator.signals import Signal
from podium.store.proposals import NewProposal, ProposalAcceptance, ProposalRepository

log = logging.getLogger(__name__)

PROPOSE_SUBTASK_TOOL = {
    "type": "object",
    "properties": {
        "description": {"type": "string", "description": "what the new subtask does"},
        "agent": {"type": "string", "description": "the teammate who should do it"},
        "after": {"type": "array", "items": {"type": "string"},
                  "description": "ids of subtasks that must finish first"},
        "reason": {"type": "string", "description": "why the plan needs it"},
    },
    "required": ["description", "reason"],
}


class ProposalVerdict(BaseModel):
    """The leader's decision on a proposed subtask."""

    model_config = ConfigDict(extra="ignore")
    accept: bool = Field(description="true to add the subtask to the plan")
    reason: str = Field(default="", max_length=240)


def _list_arg(signal: Signal, *keys: str) -> list[str]:
    for key in keys:
        value = signal.args.get(key)
        if isinstance(value, str) and value.strip():
            return [v.strip() for v in value.replace(",", " ").split() if v.strip()]
        if isinstance(value, list):
            return [str(v).strip() for v in value if str(v).strip()]
    return []


def summary_of(change: PlanChange) -> str:
    after = f" after {', '.join(change.after)}" if change.after else ""
    return f"{change.agent}: {clip(change.description or '', 160)}{after}"


async def _propose_subtask(signal: Signal, ctx: ActionContext) -> ActionResult:
    loop, agent = ctx.loop, ctx.agent
    deps, state, run_id = loop.deps, loop.run, loop.run_id
    settings = deps.settings
    description = _text_arg(signal, "description", "task", "title", "text")
    if not description:
        return ActionResult("continue", "Not proposed: say what the new subtask does (description).")
    reason = _text_arg(signal, "reason", "why")
    repo = ProposalRepository(deps.runs.store)
    made = await repo.count(run_id, ProposalKind.SUBTASK)
    if made >= settings.max_proposals:
        return ActionResult("continue", f"Not proposed: this run has had {made} proposals already (the "
                                        "limit). Carry on with your subtask.")
    live = state.live
    if live is None:
        return ActionResult("continue", "Not proposed: the plan cannot change right now. Carry on.")
    change = PlanChange(action=PlanAction.ADD, description=description[:4000],
                        agent=_text_arg(signal, "agent", "assignee", "peer") or agent.name,
                        after=_list_arg(signal, "after", "depends_on"),
                        criteria=_list_arg(signal, "criteria", "acceptance_criteria") or None)
    try:
        live.check([change])
    except PodiumError as exc:
        return ActionResult("continue", f"Not proposed: {exc}. Fix it and propose again, or carry on.")
    new = NewProposal(ProposalKind.SUBTASK, proposed_by=agent.name, changes=[change],
                      summary=summary_of(change), reason=reason, from_subtask=ctx.subtask.id)
    policy = settings.proposals
    if policy == "auto":
        return await _accept(live, new, change, agent.name,
                             ProposalAcceptance(by="auto", reason="accepted by the run's policy", new=new))
    number = await repo.add(run_id, new)
    if policy == "human":
        return ActionResult("continue", f"Your proposal #{number} waits for a person to accept or decline "
                                        "it. Carry on with your subtask.")
    verdict = await _leader_decides(deps, state, new, change)
    leader = state.team.leader
    if verdict is None:
        return ActionResult("continue", f"The leader could not decide your proposal #{number}; it waits for "
                                        "a person. Carry on with your subtask.")
    if not verdict.accept:
        why = verdict.reason.strip() or "no reason given"
        await repo.decline(run_id, number, by=leader, reason=why)
        return ActionResult("continue", f"The leader declined your proposal #{number}: {why}. "
                                        "Carry on with your subtask.")
    return await _accept(live, new, change, agent.name,
                         ProposalAcceptance(by=leader, reason=verdict.reason.strip() or "accepted",
                                            number=number))


async def _accept(live: LiveChanges, new: NewProposal, change: PlanChange, author: str,
                  accepted: ProposalAcceptance) -> ActionResult:
    try:
        applied = await live.apply_batch([change], by=author, source="agent", accepted=accepted)
    except PodiumError as exc:  # the graph moved since the check: a pending proposal stays pending
        return ActionResult("continue", f"Not added: {exc}. Carry on with your subtask.")
    who = "" if accepted.by == "auto" else f"The {accepted.by} accepted it"
    why = f" ({accepted.reason})" if who and accepted.reason else ""
    return ActionResult("continue", f"Accepted: {applied.summary} (plan v{applied.version}). {who}{why}"
                                    f"{'. ' if who else ''}Carry on with your subtask.")


def _decision_messages(state: RunState, new: NewProposal, change: PlanChange) -> list[dict[str, Any]]:
    team = state.team
    leader = team.agent(team.leader)
    lines = [f"Objective: {state.execution.objective}", "The plan as it stands:"]
    subtasks: list[Subtask] = list(state.subtasks.values())
    for s in subtasks:
        deps = f" (after {', '.join(s.depends_on)})" if s.depends_on else ""
        lines.append(f"- {s.id} [{s.agent}, {s.status.value}]{deps}: {clip(s.description, 160)}")
    lines.append(f"\n{new.proposed_by}, working on {new.from_subtask}, proposes a new subtask for "
                 f"{change.agent}: {change.description}"
                 + (f" (after {', '.join(change.after)})" if change.after else "")
                 + f"\nWhy: {new.reason or 'no reason given'}")
    lines.append("Accept it if the objective needs this work and the plan does not already cover it; "
                 "otherwise decline. Give a short reason. Reply with the JSON object only.")
    system = leader.system_prompt() + " You lead the team and keep its plan focused."
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(lines)}]


async def _leader_decides(deps: AgentDeps, state: RunState, new: NewProposal, change: PlanChange
                          ) -> ProposalVerdict | None:
    """One structured call; None if it cannot be had (the proposal then waits for a person).
    A budget stop propagates (the run stops; the proposal stays pending)."""
    leader = state.team.agent(state.team.leader)
    try:
        verdict, reply = await deps.gateway.structured(
            _decision_messages(state, new, change), ProposalVerdict,
            context=CallContext(execution_id=state.execution.id, phase=Phase.PROPOSAL.value,
                                agent=leader.name),
            guard=state.guard, model=state.model_for(leader), max_tokens=deps.settings.proposal_max_tokens)
    except LLMError as exc:
        log.warning("the leader's decision on a proposal failed: %s", exc)
        return None
    said = f"Proposal by {new.proposed_by}: {'accepted' if verdict.accept else 'declined'}" + \
        (f" — {verdict.reason}" if verdict.reason else "")
    await store_reply(deps, state.execution.id, leader.name, Phase.PROPOSAL, reply, state.guard, content=said)
    return verdict


def proposal_actions(registry: ActionRegistry) -> ActionRegistry:
    registry.register(ActionSpec(
        "propose_subtask", _propose_subtask,
        "if the plan is missing work this run needs (a new subtask for you or a teammate), end with",
        {"action": "propose_subtask", "description": "...", "agent": "NAME", "after": ["t1"],
         "reason": "..."},
        parameters=PROPOSE_SUBTASK_TOOL,
    ))
    return registry
