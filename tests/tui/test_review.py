"""Quality review in the app: the result waits for the person, who accepts it or sends it back.

The scripted leader flags t2 ("no cost table"); the app runs with review="human".
"""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import Input, TextArea

from podium.domain import ExecutionStatus
from podium.tui.screens.modals import Review
from podium.tui.screens.run import RunScreen
from podium.tui.widgets.plan import PlanGraph, PlanPane
from podium.tui.widgets.transcripts import AgentLog
from tests.tui.conftest import make_app, run_status, wait_for
from tests.tui.test_flow import start_run


async def to_review(pilot) -> RunScreen:  # type: ignore[no-untyped-def]
    screen = await start_run(pilot, "Brief on heat pumps")
    await wait_for(pilot, lambda: screen.state.awaiting_approval, what="plan")
    await pilot.press("a")
    await wait_for(pilot, lambda: screen.state.awaiting_review, what="result awaiting review")
    await wait_for(pilot, lambda: screen.rendered, what="drawn")
    return screen


async def open_review(pilot) -> Review:  # type: ignore[no-untyped-def]
    await pilot.press("v")
    return await wait_for(pilot, lambda: isinstance(pilot.app.screen, Review) and pilot.app.screen,
                          what="review modal")


async def subtask_rows(app, run_id: str) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    rows = await app.session.store.query("SELECT id, started_at, output FROM subtasks WHERE execution_id = ?",
                                 (run_id,))
    return {r["id"]: {"started_at": r["started_at"], "output": r["output"]} for r in rows}


async def reviews(app, run_id: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    rows = await app.session.store.query(
        "SELECT round, decision, subtasks_json, feedback, decided_by FROM reviews"
        " WHERE execution_id = ? ORDER BY round", (run_id,))
    return [(r[0], r[1], json.loads(r[2]), r[3], r[4]) for r in rows]


async def test_the_result_waits_for_review_and_accept_completes_the_run(project: Path) -> None:
    app = make_app(project)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await to_review(pilot)
        # The run waits on the person, loudly, with the leader's verdict; nothing else runs.
        assert await run_status(app, screen.run_id) == "review"
        banner = str(screen.query_one("#wait-banner").render())
        assert "result awaits your review (v" in banner and "needs work: t2" in banner
        assert "needs you" in str(screen.query_one("#status-bar").render())
        # The selected subtask's detail shows what the reviewer said about it.
        screen.query_one(PlanGraph).selected = "t2"
        screen.query_one(PlanPane).show_detail(screen.state, app.clock())
        assert "review: ✘ not ok: no cost table" in str(screen.query_one("#plan-detail").render())

        modal = await open_review(pilot)
        verdict = str(modal.query_one("#review-verdict").render())
        assert "Leader's review: needs work: t2" in verdict
        assert "✔ t1 — sources given" in verdict and "✘ t2 — no cost table" in verdict
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: screen.state.status is ExecutionStatus.COMPLETED, what="completed")
        assert not isinstance(app.screen, Review)
        assert await run_status(app, screen.run_id) == "completed"
        assert await reviews(app, screen.run_id) == [(1, "accept", [], None, "user")]
        await wait_for(pilot, lambda: screen.rendered, what="drawn")
        assert "awaits your review" not in str(screen.query_one("#wait-banner").render())


async def test_rework_reruns_the_named_subtask_and_what_depends_on_it_then_waits_again(project: Path) -> None:
    app = make_app(project)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await to_review(pilot)
        run_id = screen.run_id
        before = await subtask_rows(app, run_id)

        modal = await open_review(pilot)
        modal.query_one(TextArea).text = "Add a cost table"
        modal.query_one(Input).value = "t9"  # not a subtask: said so, and the modal stays
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: any("No subtask 't9'" in (n.message or "") for n in app._notifications),
                       what="unknown subtask refused")
        assert app.screen is modal
        modal.query_one(Input).value = "t2"
        await pilot.press("ctrl+r")

        # Sent back: t2 and t3 (which builds on it) run again; the result is reviewed again.
        await wait_for(pilot, lambda: (screen.state.verdict or {}).get("round") == 2
                       and screen.state.awaiting_review, what="second review")
        after = await subtask_rows(app, run_id)
        assert after["t1"] == before["t1"]  # not sent back, not downstream: untouched
        for sid, agent in (("t2", "analyst"), ("t3", "writer")):
            assert after[sid]["started_at"] > before[sid]["started_at"]
            assert after[sid]["output"] == f"{agent} reworked {sid} with a cost table."
        assert screen.state.result is not None and "(v2)" in screen.state.result
        assert await reviews(app, run_id) == [(1, "rework", ["t2"], "Add a cost table", "user"),
                                              (2, None, [], None, None)]
        everyone = screen.query_one("#log-all", AgentLog)
        await wait_for(pilot, lambda: any("rework: “Add a cost table”" in n for n in everyone.notes()),
                       what="rework note")

        modal = await open_review(pilot)
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: screen.state.status is ExecutionStatus.COMPLETED, what="completed")
        assert [r[1] for r in await reviews(app, run_id)] == ["rework", "accept"]
