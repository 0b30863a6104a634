"""Before approval, the plan is edited from the keyboard: + add, m edit (text, agent, dependencies,
criteria), c delete; each valid change is the next plan version by the person, a bad one is refused."""

from __future__ import annotations

from pathlib import Path

from podium.domain import PlanStatus
from podium.tui.screens.modals import Confirm
from podium.tui.widgets.plan import PlanGraph
from tests.tui.conftest import make_app, wait_for
from tests.tui.test_flow import start_run
from tests.tui.test_living_plan import change_plan


async def test_edit_add_and_delete_subtasks_of_the_proposed_plan(project: Path) -> None:
    app = make_app(project)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_run(pilot, "Brief on heat pumps")
        await wait_for(pilot, lambda: screen.state.awaiting_approval, what="plan awaiting approval")
        await wait_for(pilot, lambda: screen.rendered, what="drawn")
        assert [t.id for t in screen.state.plan.plan.subtasks] == ["t1", "t2", "t3"]

        # m: the selected subtask's text, agent and criteria.
        screen.query_one(PlanGraph).selected = "t2"
        await change_plan(pilot, "m", "edit form", description="Check every claim twice",
                          criteria="two sources; dated")
        await wait_for(pilot, lambda: len(screen.state.plans) == 2, what="plan v2")
        v2 = screen.state.plan
        assert v2.author == "user" and v2.status is PlanStatus.PROPOSED
        assert screen.state.plans[0].status is PlanStatus.SUPERSEDED
        t2 = next(t for t in v2.plan.subtasks if t.id == "t2")
        assert t2.description == "Check every claim twice"
        assert t2.acceptance_criteria == ["two sources", "dated"]

        # A change the plan check refuses (an agent not in the team) saves nothing.
        await change_plan(pilot, "m", "edit form again", agent="poet")
        await wait_for(pilot, lambda: any("unknown agent 'poet'" in n.message for n in app._notifications),
                       what="refused")
        assert len(screen.state.plans) == 2

        # +: a new subtask after t3.
        screen.query_one(PlanGraph).selected = "t3"
        await change_plan(pilot, "plus", "add form", description="Check the figures", agent="fact-checker")
        await wait_for(pilot, lambda: len(screen.state.plans) == 3, what="plan v3")
        assert [(t.id, t.depends_on) for t in screen.state.plan.plan.subtasks][-1] == ("t4", ["t3"])

        # c: delete it again (confirmed).
        screen.query_one(PlanGraph).selected = "t4"
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), what="delete confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: len(screen.state.plans) == 4, what="plan v4")
        assert [t.id for t in screen.state.plan.plan.subtasks] == ["t1", "t2", "t3"]
        assert screen.state.awaiting_approval

        # Approving runs the edited plan.
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.state.plan.status is PlanStatus.APPROVED, what="approved")
        assert screen.state.plan.version == 4
