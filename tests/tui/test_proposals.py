"""Accepting an agent's proposed subtask from the run screen: the banner shows it, P opens it,
Ctrl+A accepts it, and the subtask joins the running plan (by the agent, accepted by the person)."""

from __future__ import annotations

import json
from pathlib import Path

from podium.domain import ExecutionStatus, SubtaskStatus
from podium.tui.screens.proposal import ProposalDecision
from tests.tui.conftest import make_app, research_script, wait_for
from tests.tui.test_flow import accept_review, start_run

# t2's agent proposes a subtask once; the leader's decision call gets no JSON (twice: the reply
# and its repair round), so the proposal waits for the person. t3 is slow: the run is still
# executing when they decide.
SIGNAL = json.dumps({"action": "propose_subtask", "description": "Check the tariffs", "agent": "fact-checker",
                     "after": ["t1"], "reason": "the tariffs changed in 2024"})
PROPOSES = f'''
[[rules]]
phase = "execution"
subtask = "t2"
times = 1
reply = {json.dumps("Costs so far." + chr(10) + "```json" + chr(10) + SIGNAL + chr(10) + "```")}
''' + r'''
[[rules]]
phase = "proposal"
reply = "I cannot say."

[[rules]]
phase = "execution"
subtask = "t3"
latency_ms = 3000
reply = "The brief.\n```json\n{\"action\": \"done\"}\n```"

'''


def proposing_script(tmp_path: Path) -> str:
    return research_script(tmp_path / "proposing.toml", PROPOSES)


async def test_accept_a_proposed_subtask_with_P(project: Path, tmp_path: Path) -> None:
    app = make_app(project, model=proposing_script(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_run(pilot, "Brief on heat pumps")
        await wait_for(pilot, lambda: screen.state.awaiting_approval, what="plan awaiting approval")
        await pilot.press("a")
        await wait_for(pilot, lambda: bool(screen.state.proposals), what="a proposal waits")
        assert any("proposes a new subtask #1 (P to decide)" in w for w in screen.state.waits_on_person)
        await wait_for(pilot, lambda: screen.rendered, what="drawn")
        await pilot.press("P")
        modal = await wait_for(pilot, lambda: isinstance(app.screen, ProposalDecision) and app.screen,
                               what="proposal modal")
        assert "Check the tariffs" in modal.proposal.summary and modal.proposal.by == "analyst"
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: "t4" in screen.state.subtasks, what="t4 added")
        assert not screen.state.proposals
        added = screen.state.changes[-1]
        assert (added.action, added.by, added.accepted_by, added.proposal) == ("add", "analyst", "user", 1)
        assert screen.state.subtasks["t4"].depends_on == ["t1"]
        await wait_for(pilot, lambda: screen.state.subtasks["t4"].status in (
            SubtaskStatus.DONE, SubtaskStatus.REVIEW), what="t4 ran")
        await accept_review(pilot, screen)
        await wait_for(pilot, lambda: screen.state.status is ExecutionStatus.COMPLETED, what="completed")
