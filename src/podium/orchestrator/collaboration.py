"""Actions for working with others: consult a peer, ask the human.

Both plug into the action registry (native tools `consult_peer` and
`ask_human`, or fenced signals `consult` / `ask_human`) without touching
the agent loop.
"""

from __future__ import annotations

from podium.domain import SubtaskStatus
from podium.orchestrator.actions import (
    ActionContext,
    ActionRegistry,
    ActionResult,
    ActionSpec,
    _text_arg,
    builtin_actions,
)
from podium.orchestrator.board_actions import board_actions
from podium.orchestrator.consult import CONSULT_TOOL, consult
from podium.orchestrator.proposals import proposal_actions
from podium.orchestrator.signals import Signal


async def _consult(signal: Signal, ctx: ActionContext) -> ActionResult:
    peer = _text_arg(signal, "peer", "agent", "to", "name")
    question = _text_arg(signal, "question", "ask", "message", "text")
    text = await consult(ctx.loop, peer, question, asker=ctx.agent.name, depth=1)
    return ActionResult("continue", text)


async def _ask_human(signal: Signal, ctx: ActionContext) -> ActionResult:
    """Block this subtask on a question to the human; dependents wait, other work goes on."""
    question = _text_arg(signal, "question", "ask", "message", "text")
    if not question:
        return ActionResult("continue", "Not sent: say what you need the human to answer.")
    loop = ctx.loop
    control, run_id, subtask = loop.run.control, loop.run_id, ctx.subtask
    repo = loop.deps.control_repo
    control.expect_answer(subtask.id)  # before the request is visible, so no answer can be missed
    await repo.request_help(run_id, subtask, question)
    subtask.status = SubtaskStatus.NEEDS_HELP
    parking = loop.run.parking
    if parking is not None:
        parking.park(subtask.id)
    try:
        answer = await control.wait_answer(subtask.id)
    finally:
        if parking is not None:
            parking.unpark(subtask.id)
    await repo.help_answered(run_id, subtask)
    subtask.status = SubtaskStatus.RUNNING
    return ActionResult("continue", f"The human answered your question ({question[:120]}): {answer}")


def collaboration_actions(registry: ActionRegistry) -> ActionRegistry:
    registry.register(ActionSpec(
        "consult", _consult, "to ask a teammate a question (you get the answer next turn), end with",
        {"action": "consult", "peer": "NAME", "question": "..."},
        parameters=CONSULT_TOOL, aliases=("consult_peer",),
    ))
    registry.register(ActionSpec(
        "ask_human", _ask_human, "if you are stuck and only the human can decide or clarify, end with",
        {"action": "ask_human", "question": "..."},
        parameters={"type": "object", "properties": {"question": {"type": "string"}},
                    "required": ["question"]},
    ))
    return registry


def default_actions() -> ActionRegistry:
    """The engine's registry: done, blocked, tool, consult, ask_human, propose_card,
    propose_subtask."""
    return proposal_actions(board_actions(collaboration_actions(builtin_actions())))
