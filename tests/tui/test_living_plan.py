"""The living plan from the keyboard: add a subtask to a running run, retry a failed one.

The TUI waits on a failure (when_stuck="wait"): the failed card sits in Needs help, what depends
on it waits, and nothing ends until the person acts."""

from __future__ import annotations

from pathlib import Path

from podium.domain import ExecutionStatus, SubtaskStatus
from podium.tui.screens.plan_change import PlanChangeForm
from podium.tui.widgets.board import Board
from podium.tui.widgets.plan import PlanGraph
from tests.tui.conftest import make_app, research_script, wait_for
from tests.tui.test_flow import accept_review, start_run

T2_FAILS_UNTIL_RETRIED = r'''
[[rules]]
phase = "execution"
subtask = "t2"
match = "retried this subtask after it failed: use the 2023 tariffs"
reply = "Costs with the 2023 tariffs.\n```json\n{\"action\": \"done\"}\n```"

[[rules]]
phase = "execution"
subtask = "t2"
reply = "```json\n{\"action\": \"blocked\", \"reason\": \"no tariff data\"}\n```"

'''


def failing_script(tmp_path: Path) -> str:
    return research_script(tmp_path / "failing.toml", T2_FAILS_UNTIL_RETRIED)


async def fill(pilot, form: PlanChangeForm, **values: str) -> None:  # type: ignore[no-untyped-def]
    for name, value in values.items():
        field = form.query_one(f"#field-{name}")
        field.value = ""  # type: ignore[attr-defined]
        field.focus()
        await pilot.press(*value)
    await pilot.press("ctrl+s")


async def change_plan(pilot, key: str, what: str, **values: str) -> None:  # type: ignore[no-untyped-def]
    """Press `key`, wait for the plan-change form (`what` names it) and fill it in."""
    await pilot.press(key)
    form = await wait_for(pilot, lambda: isinstance(pilot.app.screen, PlanChangeForm) and pilot.app.screen,
                          what=what)
    await fill(pilot, form, **values)


async def test_add_a_subtask_then_retry_the_failed_one_with_a_note(project: Path, tmp_path: Path) -> None:
    app = make_app(project, model=failing_script(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_run(pilot, "Brief on heat pumps")
        await wait_for(pilot, lambda: screen.state.awaiting_approval, what="plan awaiting approval")
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.state.subtasks["t2"].status is SubtaskStatus.FAILED,
                       what="t2 fails")
        # The run waits for the person: t3 waits on t2, the failed card needs help.
        await wait_for(pilot, lambda: "waiting for you" in (screen.state.status_reason or ""), what="waits")
        assert screen.state.status is ExecutionStatus.RUNNING
        assert screen.state.subtasks["t3"].status is SubtaskStatus.PENDING
        await wait_for(pilot, lambda: screen.rendered, what="drawn")
        needs_help = screen.query_one(Board).query_one("#col-needs_help")
        await wait_for(pilot, lambda: {c.card.subtask_id for c in needs_help.query("Card")} == {"t2"},
                       what="t2 in Needs help")

        # + adds a subtask (a form): after t1, which is done, so it runs at once.
        screen.query_one(PlanGraph).selected = "t1"
        await change_plan(pilot, "plus", "add form", description="Check the tariffs", agent="fact-checker")
        await wait_for(pilot, lambda: "t4" in screen.state.subtasks, what="t4 added")
        assert screen.state.subtasks["t4"].depends_on == ["t1"]
        await wait_for(pilot, lambda: screen.state.subtasks["t4"].status is SubtaskStatus.DONE, what="t4 ran")
        assert screen.state.changes[-1].action == "add" and screen.state.changes[-1].by == "user"

        # R retries the selected failed subtask with a note for its agent.
        screen.query_one(PlanGraph).selected = "t2"
        await change_plan(pilot, "R", "retry form", note="use the 2023 tariffs")
        # Done (the review may then hold it in the Review column): with the note in its prompt.
        await wait_for(pilot, lambda: (screen.state.subtasks["t2"].output or "").startswith(
            "Costs with the 2023 tariffs"), what="t2 done after the retry")
        await accept_review(pilot, screen)
        await wait_for(pilot, lambda: screen.state.status is ExecutionStatus.COMPLETED, what="completed")
        assert [c.action for c in screen.state.changes] == ["add", "retry"]
        assert screen.state.plan is not None and screen.state.plan.author == "user"
