"""Forking from the run screen: `F` on a finished subtask opens an editor on its output; the edited
text becomes the fork's output for it, what depends on it runs again with it, the rest is reused
without a model call, and the home screen shows where the fork came from."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, TextArea

from podium.domain import SubtaskStatus
from podium.tui.screens.fork import ForkEditor
from podium.tui.screens.home import HomeScreen
from podium.tui.screens.run import RunScreen
from tests.tui.conftest import make_app, research_script, wait_for
from tests.tui.test_board_task_keys import focus_board, select_card, stored
from tests.tui.test_flow import accept_review, start_run

EDITED = "EDITED IN THE APP: running costs 9 000 NOK a year."

# The writer (t3, after t2) says whether its prompt carried the edit.
SEES_THE_EDIT = r'''
[[rules]]
phase = "execution"
subtask = "t3"
match = "EDITED IN THE APP"
reply = "The brief uses the edited costs.\n```json\n{\"action\": \"done\"}\n```"

'''


async def test_fork_key_edits_an_output_and_the_fork_reruns_only_its_dependents(project: Path,
                                                                                 tmp_path: Path) -> None:
    app = make_app(project, model=research_script(tmp_path / "fork.toml", SEES_THE_EDIT))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_run(pilot, "Brief on heat pumps")
        await wait_for(pilot, lambda: screen.state.awaiting_approval, what="plan awaiting approval")
        await pilot.press("a")
        await accept_review(pilot, screen)
        await wait_for(pilot, lambda: screen.state.status.finished, what="the run finished")
        parent = screen.run_id
        first = {sid: await stored(app, parent, sid) for sid in ("t1", "t2", "t3")}
        assert "edited" not in (first["t3"][1] or "")

        board = await focus_board(pilot, screen)
        await select_card(pilot, board, "t2")
        await pilot.press("F")
        editor = await wait_for(pilot, lambda: isinstance(app.screen, ForkEditor) and app.screen,
                                what="the fork editor")
        area = editor.query_one(TextArea)
        assert area.text == first["t2"][1]
        area.clear()
        await pilot.press(*EDITED)
        await pilot.press("ctrl+s")

        fork = await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.run_id != parent
                              and app.screen, what="the fork opens")
        await wait_for(pilot, lambda: fork.state.awaiting_approval, what="the fork's plan awaits approval")
        await pilot.press("a")
        await accept_review(pilot, fork)
        await wait_for(pilot, lambda: fork.state.status.finished, what="the fork finished")

        child = fork.run_id
        assert await stored(app, child, "t2") == ("done", EDITED)
        assert await stored(app, child, "t3") == ("done", "The brief uses the edited costs.")
        assert await stored(app, child, "t1") == first["t1"]  # reused byte for byte
        assert fork.state.subtasks["t1"].status is SubtaskStatus.DONE
        # Only t3 ran again: no model call for t1 or t2 in the fork.
        forked_at = (await app.session.store.query_one(
            "SELECT created_at FROM run_forks WHERE execution_id = ?", (child,)))[0]
        ran = await app.session.store.query(
            "SELECT DISTINCT subtask_id FROM messages WHERE execution_id = ? AND created_at >= ?"
            " AND subtask_id IS NOT NULL", (child, forked_at))
        assert {r[0] for r in ran} == {"t3"}

        # Home shows the lineage.
        await pilot.press("escape")
        home = await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen) and app.screen, what="home")
        table = home.query_one("#runs", DataTable)
        await wait_for(pilot, lambda: child in [str(k.value) for k in table.rows], what="the fork listed")
        objective = str(table.get_cell(child, "objective"))
        assert objective.startswith(f"↳ fork of {parent} from t2: ") and "Brief on heat pumps" in objective
