"""The project board screen, driven with Pilot on the scripted model: opened from home and from a
run, cards added through the form, moved, prioritised and archived, a card another process changes
appearing, the heartbeat working a card to Done, and a read-only archive refusing changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Footer, Input, TextArea
from textual.widgets._footer import FooterKey

from podium.app.board import CardFields
from podium.app.session import ProjectSession
from podium.domain import CardColumn, CardPriority
from podium.tui.app import PodiumApp
from podium.tui.screens.board import READ_ONLY, BoardScreen
from podium.tui.screens.card_forms import CardDetail, CardForm, ColumnPicker
from podium.tui.screens.home import HomeScreen
from podium.tui.screens.modals import Confirm, HelpScreen
from podium.tui.screens.run import ReplayScreen, RunScreen
from tests.integration.run_helpers import write_script
from tests.tui.conftest import make_app, wait_for
from tests.tui.seed import seed_project


async def open_board(pilot: Any) -> BoardScreen:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, (HomeScreen, RunScreen)), what="home or a run")
    if isinstance(app.focused, Input):  # an empty project's home: the objective field has focus
        await pilot.press("escape")
    await pilot.press("b")
    screen = await wait_for(pilot, lambda: isinstance(app.screen, BoardScreen) and app.screen, what="board")
    await wait_for(pilot, lambda: screen.loaded.is_set(), what="cards listed")
    return screen


def footer_keys(app: PodiumApp) -> dict[str, str]:
    return {k.description: k.key_display for k in app.screen.query_one(Footer).query(FooterKey)
            if k.description}


def notes(app: PodiumApp) -> list[str]:
    return [n.message for n in app._notifications]


async def add_cards(project: Path, *titles: str, **fields: Any) -> None:
    """Cards written through the app layer by a session of its own (as another process would)."""
    async with ProjectSession(project) as other:
        for title in titles:
            await other.board.add(CardFields(title=title, **fields))


async def test_add_move_prioritise_and_archive_a_card_from_the_board(project: Path) -> None:
    app = make_app(project)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_board(pilot)
        keys = footer_keys(app)
        # At 120 columns `x archive` makes room for `? keys` and `q quit` (`?` lists it).
        assert {"add", "edit", "move", "raise", "lower", "work on/off", "back", "keys", "quit"} <= set(keys)
        assert "board" not in keys  # already on it

        await pilot.press("a")
        form = await wait_for(pilot, lambda: isinstance(app.screen, CardForm) and app.screen, what="form")
        await pilot.press(*"Compare heat pumps")
        form.query_one("#card-criteria", TextArea).text = "a table\nprices in NOK"
        form.query_one("#card-after", Input).value = "c9"
        await pilot.press("ctrl+s")
        # A card to depend on that does not exist: the form stays, says why, and nothing is written.
        await wait_for(pilot, lambda: any("no card c9" in n for n in notes(app)), what="the error")
        assert app.screen is form and not await app.session.board.list()
        form.query_one("#card-after", Input).value = ""
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen, what="form closed")
        await wait_for(pilot, lambda: screen.board.refs_in(CardColumn.TODO) == ["c1"], what="c1 in To do")
        card = await app.session.board.get("c1")
        assert card.title == "Compare heat pumps" and card.criteria == ["a table", "prices in NOK"]
        assert card.created_by == "user" and card.priority is CardPriority.NORMAL
        assert screen.board.selected() is not None and screen.board.selected().ref == "c1"  # type: ignore[union-attr]

        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ColumnPicker), what="column picker")
        await pilot.press("1")  # Backlog
        await wait_for(pilot, lambda: screen.board.refs_in(CardColumn.BACKLOG) == ["c1"], what="moved")
        assert screen.board.refs_in(CardColumn.TODO) == []
        assert "Backlog (1)" in str(screen.board.column(CardColumn.BACKLOG).query_one("Label").render())

        await pilot.press("plus")
        await wait_for(pilot, lambda: screen.board.cards["c1"].priority is CardPriority.HIGH, what="raised")
        await pilot.press("minus", "minus")
        await wait_for(pilot, lambda: screen.board.cards["c1"].priority is CardPriority.LOW, what="lowered")

        await pilot.press("c")
        form = await wait_for(pilot, lambda: isinstance(app.screen, CardForm) and app.screen, what="edit")
        assert form.query_one("#card-title", Input).value == "Compare heat pumps"
        form.query_one("#card-title", Input).value = "Compare heat pumps under 10 kW"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.board.cards["c1"].title == "Compare heat pumps under 10 kW",
                       what="edited")
        assert (await app.session.board.get("c1")).criteria == ["a table", "prices in NOK"]  # kept

        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), what="archive?")
        await pilot.press("y")
        await wait_for(pilot, lambda: not screen.board.cards, what="archived")
        assert (await app.session.board.get("c1")).archived

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="back home")


async def test_a_card_another_process_adds_and_moves_appears(project: Path) -> None:
    app = make_app(project)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_board(pilot)
        assert not screen.board.cards
        # Another session on the file (another process's writes reach this one only through the file).
        await add_cards(project, "Gather the facts", priority="urgent")
        await wait_for(pilot, lambda: screen.board.refs_in(CardColumn.TODO) == ["c1"], what="c1 appears")
        assert "‼" in screen.board.column(CardColumn.TODO).cards.shown[0][1]
        async with ProjectSession(project) as other:
            await other.board.move("c1", "needs help", by="someone")
        await wait_for(pilot, lambda: screen.board.refs_in(CardColumn.NEEDS_HELP) == ["c1"], what="moved")
        assert screen.board.refs_in(CardColumn.TODO) == []


async def test_the_heartbeat_works_a_card_to_done_and_its_run_opens(project: Path, tmp_path: Path) -> None:
    model = write_script(tmp_path)
    await add_cards(project, "Brief on heat pumps", criteria=["one page"])
    app = make_app(project, model=model)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_board(pilot)
        assert screen.board.refs_in(CardColumn.TODO) == ["c1"]
        assert "heartbeat off" in str(screen.query_one("#heartbeat").render())
        await pilot.press("w")
        await wait_for(pilot, lambda: app.heartbeat is not None and app.heartbeat.running, what="started")
        await wait_for(pilot, lambda: screen.board.refs_in(CardColumn.DONE) == ["c1"], timeout=60,
                       what="c1 worked to Done")
        await wait_for(pilot, lambda: "1 worked, 1 done" in str(screen.query_one("#heartbeat").render()),
                       what="the status line counts it")
        await pilot.press("w")
        await wait_for(pilot, lambda: app.heartbeat is not None and not app.heartbeat.running, what="stopped")
        await wait_for(pilot, lambda: "heartbeat off" in str(screen.query_one("#heartbeat").render()),
                       what="the status line says so")

        card = await app.session.board.get("c1")
        [run_id] = card.runs
        assert card.column is CardColumn.DONE and card.result and card.claimed_by is None
        screen.board.select("c1")
        await pilot.press("enter")
        detail = await wait_for(pilot, lambda: isinstance(app.screen, CardDetail) and app.screen,
                                what="card detail")
        text = str(detail.query_one("#card-text").render())
        assert "Done" in text and "one page" in text and "Created by: user" in text
        await pilot.press("enter")  # the run (highlighted) opens
        run = await wait_for(pilot, lambda: isinstance(app.screen, (RunScreen, ReplayScreen)) and app.screen,
                             what="the card's run")
        assert run.run_id == run_id


async def test_opened_from_a_run_and_back(tmp_path: Path) -> None:
    project = tmp_path / "project.podium"
    await seed_project(project)
    app = make_app(project)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="home")
        app.open_run("runb00c")
        run = await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen, what="run")
        await open_board(pilot)
        await pilot.press("question_mark")
        keys = await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen, what="keys")
        rows = {description: key for key, description, _ in keys.rows}
        assert rows["add"] == "a" and rows["work on/off"] == "w" and rows["detail"] == "⏎"
        await pilot.press("escape")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is run, what="back on the run")


async def test_a_read_only_archive_shows_the_board_and_refuses_changes(project: Path, tmp_path: Path) -> None:
    await add_cards(project, "Gather the facts", "Write the summary")
    archive = tmp_path / "archive.podium"
    async with ProjectSession(project) as session:
        await session.export_archive(archive)
    app = PodiumApp(archive, readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_board(pilot)
        assert screen.board.refs_in(CardColumn.TODO) == ["c1", "c2"]
        keys = footer_keys(app)
        assert "add" not in keys and "work on/off" not in keys and "detail" in keys
        for key in ("a", "x", "w"):
            await pilot.press(key)
            assert isinstance(app.screen, BoardScreen)
        assert notes(app).count(READ_ONLY) == 3
        assert [c.ref for c in await app.session.board.list()] == ["c1", "c2"]
