"""A stop request typed as guidance asks "Halt the run?"; nothing halts (or is sent) without a yes."""

from __future__ import annotations

from pathlib import Path

from podium.domain import ExecutionStatus
from podium.tui.screens.modals import Confirm, TextPrompt
from tests.tui.conftest import SLOW, make_app, wait_for
from tests.tui.test_flow import start_running


async def guide(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    app = pilot.app
    await pilot.press("g")
    prompt = await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt) and app.screen, what="box")
    prompt.query_one("TextArea").text = text
    await pilot.press("ctrl+s")


async def test_stop_as_guidance_asks_to_halt(project: Path) -> None:
    app = make_app(project, model=SLOW)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_running(pilot, "Two steps")

        # "No": neither halted nor sent.
        await guide(pilot, "stop")
        confirm = await wait_for(pilot, lambda: isinstance(app.screen, Confirm) and app.screen,
                                 what="confirm")
        assert confirm.title_text == "Halt the run?"
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, Confirm), what="confirm closed")
        assert app.session.is_open
        kinds = [r["kind"] for r in await app.session.store.query(
            "SELECT kind FROM interventions WHERE execution_id = ?", (screen.run_id,))]
        assert kinds == [] and screen.state.status is ExecutionStatus.RUNNING

        # Guidance that only mentions stopping goes as guidance, no question asked.
        await guide(pilot, "don't stop at the first source")
        await wait_for(pilot, lambda: not isinstance(app.screen, TextPrompt), what="box closed")
        assert not isinstance(app.screen, Confirm)

        # "Yes": halted (resumable), and the word itself never went to the agents.
        await guide(pilot, "Halt now!")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), what="confirm again")
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.state.status is ExecutionStatus.HALTED, what="halted")
        rows = await app.session.store.query(
            "SELECT kind, text FROM interventions WHERE execution_id = ? ORDER BY id", (screen.run_id,))
        assert [(r["kind"], r["text"]) for r in rows] == [
            ("guidance", "don't stop at the first source"), ("halt", "halted by the user")]
