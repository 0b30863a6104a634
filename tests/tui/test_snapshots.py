"""Snapshots of the main screens at 120x40 and 80x24 (pytest-textual-snapshot).

The project is seeded with fixed ids and timestamps and the app's clock is
fixed, so the pictures only change when the screens do. Update them after a
deliberate change with `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from podium.tui.app import PodiumApp
from podium.tui.screens.home import HomeScreen
from podium.tui.screens.run import RunScreen
from podium.tui.widgets.transcripts import AgentLog
from tests.tui.conftest import wait_for
from tests.tui.seed import NOW, seed_project

SIZES = [(120, 40), (80, 24)]


def app_on_seeded_project(tmp_path: Path, *, readonly: bool = False) -> PodiumApp:
    project = Path("project.podium")  # relative (the cwd is tmp_path): the title shows no temp path
    asyncio.run(seed_project(tmp_path / project))
    app = PodiumApp(project, readonly=readonly, model="local", theme="podium-dark")
    app.clock = lambda: NOW
    return app


async def settle_home(pilot: Any) -> None:
    app = pilot.app
    home = await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen) and app.screen, what="home")
    await wait_for(pilot, lambda: home.query_one("#runs").row_count == 2, what="runs")
    home.query_one("#runs").focus()
    await pilot.pause(0.2)


def open_and_settle(run_id: str, *keys: str):  # type: ignore[no-untyped-def]
    async def run_before(pilot: Any) -> None:
        app = pilot.app
        await settle_home(pilot)
        app.open_run(run_id)
        screen = await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen, what="run")
        await wait_for(pilot, lambda: screen.loaded.is_set() and screen.rendered, what="drawn")
        await pilot.pause(0.3)
        if keys:
            await pilot.press(*keys)
        if screen.replay:  # stepping runs as an action; wait until it has landed
            back = keys.count("left")
            await wait_for(pilot, lambda: screen.cursor == len(screen.events) - back
                           and screen.transcripts_current, what="stepped")
        await wait_for(pilot, lambda: screen.rendered, what="drawn")
        # Markdown lays itself out after it is mounted and the log follows it down:
        # wait until the transcript has stopped moving.
        log = screen.query_one("#log-all", AgentLog)
        last, steady = (-1.0, -1.0, -1), 0
        for _ in range(100):
            await pilot.pause(0.1)
            now = (log.scroll_y, log.max_scroll_y, log.virtual_size.height)
            steady = steady + 1 if now == last and log.scroll_y == log.max_scroll_y else 0
            if steady >= 3:
                break
            last = now

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_home(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(app_on_seeded_project(tmp_path), terminal_size=size, run_before=settle_home)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_home_of_an_empty_project(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    """A newcomer's first screen: the objective field has focus; the footer says how to quit,
    get the keys and leave the field."""
    app = PodiumApp(Path("project.podium"), model="local", theme="podium-dark")

    async def run_before(pilot: Any) -> None:
        home = await wait_for(pilot, lambda: isinstance(pilot.app.screen, HomeScreen) and pilot.app.screen,
                              what="home")
        await wait_for(pilot, lambda: pilot.app.focused is home.query_one("#objective"), what="focus")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_running_run(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    """A live run: graph with a peer wait and a help request, board, transcripts, status bar."""
    assert snap_compare(app_on_seeded_project(tmp_path), terminal_size=size,
                        run_before=open_and_settle("run7f3a", "down"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_replay_of_an_archive(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    """Read-only replay, stepped back four events on the timeline."""
    assert snap_compare(app_on_seeded_project(tmp_path, readonly=True), terminal_size=size,
                        run_before=open_and_settle("runb00c", "left", "left", "left", "left"))


def test_narrow_board_tab(snap_compare, tmp_path: Path) -> None:
    assert snap_compare(app_on_seeded_project(tmp_path), terminal_size=(80, 24),
                        run_before=open_and_settle("run7f3a", "3"))


async def seed_board(path: Path) -> None:
    """Cards in most columns, of every priority, one with a dependency and one an agent proposed."""
    from podium.app.board import CardFields
    from podium.app.session import ProjectSession

    async with ProjectSession(path) as session:
        board = session.board
        await board.add(CardFields(title="Compare heat-pump models under 10 kW", priority="high",
                                   criteria=["a table", "prices in NOK"], team="research"))
        await board.add(CardFields(title="Write the buyer's summary", after=["c1"]))
        await board.add(CardFields(title="Fix the typo in the brief", priority="urgent"))
        await board.propose("Check ground-source subsidies", reason="prices depend on them",
                            run_id="run7f3a", agent="researcher")
        await board.add(CardFields(title="Ask an installer for quotes", priority="low"))
        await board.move("c3", "done")
        await board.move("c5", "needs help")


def test_project_board(snap_compare, tmp_path: Path) -> None:
    """The project board opened from home: seven columns, the heartbeat's line, the board's keys."""
    app = app_on_seeded_project(tmp_path)
    asyncio.run(seed_board(tmp_path / "project.podium"))

    async def run_before(pilot: Any) -> None:
        from podium.tui.screens.board import BoardScreen

        await settle_home(pilot)
        await pilot.press("b")
        board = await wait_for(pilot, lambda: isinstance(pilot.app.screen, BoardScreen) and pilot.app.screen,
                               what="board")
        await wait_for(pilot, lambda: len(board.board.cards) == 5, what="cards")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
