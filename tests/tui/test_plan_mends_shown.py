"""A mended plan says so in the run screen: the transcript note and the plan's totals line."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from podium import events as ev
from podium.store import ProjectStore
from podium.tui.app import PodiumApp
from podium.tui.widgets.transcripts import AgentLog
from tests.tui.conftest import wait_for
from tests.tui.test_app_parts import open_run

MENDS = ["subtask 2: duplicate id t1, renamed t2", "t1: agent 'Ana' read as ana",
         "t2: dropped its dependency on itself",
         "reordered the subtasks so t2 comes after what it depends on"]


async def seed(project: Path) -> None:
    store = await ProjectStore.open(project)

    def create(tx):  # type: ignore[no-untyped-def]
        tx.execute("INSERT INTO executions (id, objective, team, status, created_at, updated_at)"
                   " VALUES ('r1', 'Heat pumps', 'research', 'awaiting_approval', 0, 0)")
        tx.emit(ev.RUN_CREATED, "r1", objective="Heat pumps", team="research", agents=["ana", "bob"],
                leader="ana")
        tx.emit(ev.PLAN_PROPOSED, "r1", version=1, fallback=False, plan={"mends": MENDS, "subtasks": [
            {"id": "t1", "agent": "ana", "description": "Collect"},
            {"id": "t2", "agent": "bob", "description": "Write", "depends_on": ["t1"]}]})

    await store.write(create)
    await store.close()


async def test_the_mends_are_in_the_transcript_and_on_the_plan(project: Path) -> None:
    await seed(project)
    app = PodiumApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_run(pilot, app)
        everyone = screen.query_one("#log-all", AgentLog)
        await wait_for(pilot, lambda: everyone.texts("plan"), what="plan note")
        [note] = everyone.texts("plan")
        assert "proposed: 2 subtasks (mended: subtask 2: duplicate id t1, renamed t2; " in note
        assert note.endswith("t2: dropped its dependency on itself; +1 more)")
        totals = screen.query_one("#plan-totals", Static)
        await wait_for(pilot, lambda: "mended (4 fixes" in str(totals.render()), what="plan totals")
