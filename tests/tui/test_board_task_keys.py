"""The living plan's keys on the run's board: with the board focused, retry, skip, cancel (and add)
act on the card selected there, not on the plan pane's selection; `o` replaces a finished
subtask's output in an editor and what depends on it runs again with the new text.

Statuses and outputs are checked in the project file, not only on screen."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import TextArea

from podium.domain import BoardColumn, SubtaskStatus
from podium.tui.app import PodiumApp
from podium.tui.screens.modals import Confirm, HelpScreen
from podium.tui.screens.plan_change import OutputEditor
from podium.tui.screens.run import RunScreen
from podium.tui.widgets.board import Board
from podium.tui.widgets.plan import PlanGraph
from tests.tui.conftest import make_app, research_script, wait_for
from tests.tui.test_flow import start_run
from tests.tui.test_keys_shown import settled_footer
from tests.tui.test_living_plan import change_plan, failing_script


async def stored(app: PodiumApp, run_id: str, sid: str) -> tuple[str, str | None]:
    """(status, output) of a subtask as the project file holds it."""
    row = await app.session.store.query_one(
        "SELECT status, output FROM subtasks WHERE execution_id = ? AND id = ?", (run_id, sid))
    return row["status"], row["output"]


async def focus_board(pilot, screen: RunScreen) -> Board:  # type: ignore[no-untyped-def]
    await pilot.press("3")
    board = screen.query_one(Board)
    await wait_for(pilot, lambda: board.has_focus and board.selected is not None, what="the board has focus")
    return board


async def select_card(pilot, board: Board, sid: str) -> None:  # type: ignore[no-untyped-def]
    """Move the board's selection to `sid`'s card with the arrow keys, as a person would."""
    columns = list(BoardColumn)
    for _ in range(20):
        if board.selected == sid:
            return
        here, target = board.card(board.selected or ""), board.card(sid)
        assert here is not None and target is not None, (board.selected, sid)
        step = columns.index(target.card.column) - columns.index(here.card.column)
        if step:
            await pilot.press("right" if step > 0 else "left")
            continue
        shown = board.shown(target.card.column)
        await pilot.press("down" if shown.index(target) > shown.index(here) else "up")
    raise AssertionError(f"could not reach {sid}'s card (at {board.selected})")


async def confirm(pilot) -> None:  # type: ignore[no-untyped-def]
    modal = await wait_for(pilot, lambda: isinstance(pilot.app.screen, Confirm) and pilot.app.screen,
                           what="the confirmation")
    await pilot.press("y")
    await wait_for(pilot, lambda: modal not in pilot.app.screen_stack, what="confirmed")


async def test_retry_skip_and_cancel_act_on_the_card_selected_on_the_board(project: Path, tmp_path: Path,
                                                                          ) -> None:
    app = make_app(project, model=failing_script(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_run(pilot, "Brief on heat pumps")
        await wait_for(pilot, lambda: screen.state.awaiting_approval, what="plan awaiting approval")
        await pilot.press("a")
        await wait_for(pilot, lambda: "waiting for you" in (screen.state.status_reason or ""),
                       what="t2 failed; the run waits for the person")
        await wait_for(pilot, lambda: screen.rendered, what="drawn")
        run_id = screen.run_id
        graph = screen.query_one(PlanGraph)
        graph.selected = "t1"  # the plan pane points at a done subtask: the board's card must win

        # A click picks a card and gives the board focus; the arrows move the selection.
        await pilot.click("#card-t1")
        board = screen.query_one(Board)
        await wait_for(pilot, lambda: board.has_focus and board.selected == "t1", what="t1 clicked")
        await select_card(pilot, board, "t3")
        assert graph.selected == "t1"
        keys = await settled_footer(pilot, lambda k: "skip" in k, "the keys for t3 (pending)")
        assert keys["skip"] == "s" and keys["cancel task"] == "c" and "retry" not in keys

        # s on the board: t3 (pending, waiting on the failed t2) is skipped.
        await pilot.press("s")
        await confirm(pilot)
        await wait_for(pilot, lambda: screen.state.subtasks["t3"].status is SubtaskStatus.SKIPPED,
                       what="t3 skipped")
        assert (await stored(app, run_id, "t3"))[0] == "skipped"
        assert (await stored(app, run_id, "t1"))[0] == "done"  # the plan pane's choice untouched

        # + with t2's card selected: the new subtask comes after t2.
        await select_card(pilot, board, "t2")
        await change_plan(pilot, "plus", "add form", description="Check the tariffs", agent="fact-checker")
        await wait_for(pilot, lambda: "t4" in screen.state.subtasks, what="t4 added")
        assert screen.state.subtasks["t4"].depends_on == ["t2"]

        # c on t4's card (To do, waiting on t2): cancelled.
        await wait_for(pilot, lambda: board.card("t4") is not None, what="t4's card")
        board.focus()
        await select_card(pilot, board, "t4")
        await pilot.press("c")
        await confirm(pilot)
        await wait_for(pilot, lambda: screen.state.subtasks["t4"].status is SubtaskStatus.CANCELLED,
                       what="t4 cancelled")
        assert (await stored(app, run_id, "t4"))[0] == "cancelled"

        # R on t2's card (Needs help): retried with a note its agent is told.
        board.focus()
        await select_card(pilot, board, "t2")
        keys = await settled_footer(pilot, lambda k: "retry" in k, "retry offered for t2 (failed)")
        await change_plan(pilot, "R", "retry form", note="use the 2023 tariffs")
        await wait_for(pilot, lambda: (screen.state.subtasks["t2"].output or "").startswith(
            "Costs with the 2023 tariffs"), what="t2 done after the retry")
        status, output = await stored(app, run_id, "t2")
        assert status in ("done", "review") and (output or "").startswith("Costs with the 2023 tariffs")
        assert [(c.action, c.subtask_id, c.by) for c in screen.state.changes] == [
            ("skip", "t3", "user"), ("add", "t4", "user"), ("cancel", "t4", "user"), ("retry", "t2", "user")]


# t1 -> t2 -> t3, and t4 on its own fails so the run waits for the person with t1..t3 done.
# t3 says so when its input holds the replaced text.
CHAIN_AND_A_FAILURE = r'''
[[rules]]
phase = "planning"
structured = true
[rules.json]
rationale = "A chain, and a check on the side."
[[rules.json.subtasks]]
id = "t1"
agent = "researcher"
description = "Collect sources on heat pumps"
estimated_tokens = 800
[[rules.json.subtasks]]
id = "t2"
agent = "analyst"
description = "Analyse running costs"
depends_on = ["t1"]
estimated_tokens = 900
[[rules.json.subtasks]]
id = "t3"
agent = "writer"
description = "Write the brief"
depends_on = ["t2"]
estimated_tokens = 1000
[[rules.json.subtasks]]
id = "t4"
agent = "fact-checker"
description = "Check the claims"
estimated_tokens = 600

[[rules]]
phase = "execution"
subtask = "t3"
match = "REPLACED: a cost table"
reply = "The brief now uses the replaced cost table.\n```json\n{\"action\": \"done\"}\n```"

[[rules]]
phase = "execution"
subtask = "t4"
reply = "```json\n{\"action\": \"blocked\", \"reason\": \"nothing to check against\"}\n```"

'''

NEW_OUTPUT = "REPLACED: a cost table, about 9 000 NOK a year saved."


async def test_o_replaces_a_finished_output_and_its_dependent_runs_again_with_it(project: Path,
                                                                                tmp_path: Path) -> None:
    app = make_app(project, model=research_script(tmp_path / "chain.toml", CHAIN_AND_A_FAILURE))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_run(pilot, "Brief on heat pumps")
        await wait_for(pilot, lambda: screen.state.awaiting_approval, what="plan awaiting approval")
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.state.subtasks["t3"].status is SubtaskStatus.DONE
                       and screen.state.subtasks["t4"].status is SubtaskStatus.FAILED
                       and "waiting for you" in (screen.state.status_reason or ""),
                       what="t1..t3 done, t4 failed, the run waits")
        await wait_for(pilot, lambda: screen.rendered, what="drawn")
        run_id = screen.run_id
        first_t3 = screen.state.subtasks["t3"].output
        assert first_t3 and "replaced" not in first_t3

        board = await focus_board(pilot, screen)
        # o on a subtask that is not done: a clear notice, no editor.
        await select_card(pilot, board, "t4")
        await pilot.press("o")
        await wait_for(pilot, lambda: any("t4 is failed: only a finished (done) subtask's output can be "
                                          "replaced" in str(n.message) for n in app._notifications),
                       what="the notice for t4")
        assert not isinstance(app.screen, OutputEditor)

        # o on t2's card (done): the editor holds its current output.
        await select_card(pilot, board, "t2")
        keys = await settled_footer(pilot, lambda k: "edit output" in k, "o offered for t2 (done)")
        assert keys["edit output"] == "o"
        await pilot.press("o")
        editor = await wait_for(pilot, lambda: isinstance(app.screen, OutputEditor) and app.screen,
                                what="the output editor")
        area = editor.query_one(TextArea)
        old_t2 = (await stored(app, run_id, "t2"))[1]
        assert old_t2 and area.text == old_t2 and "t3" in str(editor.context)
        await pilot.press("ctrl+s")  # unchanged: not sent, the editor stays
        await wait_for(pilot, lambda: any("unchanged" in str(n.message) for n in app._notifications),
                       what="the unchanged notice")
        assert app.screen is editor
        area.clear()
        await pilot.press(*NEW_OUTPUT)
        assert area.text == NEW_OUTPUT
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: editor not in app.screen_stack, what="saved")

        # Stored, by the user; t3 ran again and its prompt held the new text.
        await wait_for(pilot, lambda: (screen.state.subtasks["t3"].output or "").startswith(
            "The brief now uses the replaced cost table"), what="t3 ran again with the new input")
        assert await stored(app, run_id, "t2") == ("done", NEW_OUTPUT)
        status, t3 = await stored(app, run_id, "t3")
        assert status == "done" and (t3 or "").startswith("The brief now uses the replaced cost table")
        change = screen.state.changes[-1]
        assert (change.action, change.subtask_id, change.by) == ("output", "t2", "user")
        assert screen.state.subtasks["t1"].status is SubtaskStatus.DONE  # upstream untouched

        # `?` lists every task key, with what it acts on.
        await pilot.press("question_mark")
        help_screen = await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen,
                                     what="the keys")
        rows = {description: (key, note) for key, description, note in help_screen.rows}
        assert rows["edit output"][0] == "o" and "finished subtask's output" in rows["edit output"][1]
        assert rows["skip"][0] == "s" and rows["cancel task"][0] == "c" and rows["retry"][0] == "R"
