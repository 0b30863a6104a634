"""`propose_card`: an agent files follow-up work on the project board while it works.

The card goes to Backlog (or To do, if the project's policy says so) and records the
run and agent it came from; a person, or `podium work`, takes it from there. It never
changes the run the agent is in. Bounded per run, so a chatty model cannot flood the board.
"""

from __future__ import annotations

import logging
from typing import Any

from podium.errors import PodiumError
from podium.orchestrator.actions import ActionContext, ActionRegistry, ActionResult, ActionSpec, _text_arg
from podium.orchestrator.deps import AgentDeps
from podium.orchestrator.signals import Signal
from podium.store.cards import CardRepository

log = logging.getLogger(__name__)

MAX_CARDS_PER_RUN = 5

PROPOSE_CARD_TOOL = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "description": "the follow-up work, in one line"},
        "reason": {"type": "string", "description": "why it is needed"},
        "details": {"type": "string"},
    },
    "required": ["title", "reason"],
}


async def _propose_card(signal: Signal, ctx: ActionContext) -> ActionResult:
    title = _text_arg(signal, "title", "card", "description", "text")
    reason = _text_arg(signal, "reason", "why")
    if not title:
        return ActionResult("continue", "No card filed: give it a title (the follow-up work, in one line).")
    cards = CardRepository(ctx.loop.deps.runs.store)
    if await cards.proposed_by_run(ctx.loop.run_id) >= MAX_CARDS_PER_RUN:
        return ActionResult("continue", f"No card filed: this run has proposed {MAX_CARDS_PER_RUN} already. "
                                        "Carry on with your subtask.")
    try:
        card = await cards.propose(title, reason=reason, run_id=ctx.loop.run_id, agent=ctx.agent.name,
                                   team=ctx.loop.run.execution.team, details=_text_arg(signal, "details"))
    except PodiumError as exc:
        return ActionResult("continue", f"No card filed: {exc}")
    return ActionResult("continue", f"Card {card.ref} filed in {card.column.label} for later: {card.title}. "
                                    "Carry on with your subtask.")


async def file_follow_ups(deps: AgentDeps, run_id: str, leader: str, team: str,
                          follow_ups: list[dict[str, Any]]) -> list[str]:
    """The leader's follow-ups from its review, filed as cards (best effort, within the run's bound)."""
    cards = CardRepository(deps.runs.store)
    filed: list[str] = []
    for item in follow_ups:
        title = str(item.get("title") or "").strip()
        if not title or await cards.proposed_by_run(run_id) >= MAX_CARDS_PER_RUN:
            continue
        try:
            card = await cards.propose(title, reason=str(item.get("reason") or ""), run_id=run_id,
                                       agent=leader, team=team)
        except Exception:  # the board is an aid: the review stands regardless
            log.exception("filing the leader's follow-up %r failed", title)
            continue
        filed.append(card.ref)
    return filed


def board_actions(registry: ActionRegistry) -> ActionRegistry:
    registry.register(ActionSpec(
        "propose_card", _propose_card,
        "to file follow-up work for later (not part of this run) on the project board, end with",
        {"action": "propose_card", "title": "...", "reason": "..."},
        parameters=PROPOSE_CARD_TOOL,
    ))
    return registry
