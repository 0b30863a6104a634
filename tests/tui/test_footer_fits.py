"""The key footer fits the terminal: at 80x24 (and 120x40) every main screen shows `? keys` and
`q quit` whole, no key is cut or drawn over another, and a key left out is listed by `?`."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from podium.tui.app import PodiumApp
from podium.tui.keys import (
    APP_BINDINGS,
    BOARD_BINDINGS,
    FOOTER_PINNED,
    FOOTER_RANKS,
    HOME_BINDINGS,
    OBJECTIVE_BINDINGS,
    REPLAY_BINDINGS,
    RUN_BINDINGS,
)
from podium.tui.screens.modals import HelpScreen
from podium.tui.widgets.footer import key_cells
from tests.tui.conftest import wait_for
from tests.tui.test_app_parts import open_run, seed_run
from tests.tui.test_board_screen import add_cards, open_board
from tests.tui.test_keys_shown import footer_keys, home_of_empty_project, seed_finished_run

SIZES = [(80, 24), (120, 40)]
size_id = "{0[0]}x{0[1]}".format


def drawn_keys(app: PodiumApp) -> dict[str, str]:
    """The footer's keys (description -> key), each checked to be drawn whole inside the terminal
    and over no other key: Textual's own footer runs the row off the right edge and draws the
    palette key over it, which is how `? keys` and `q quit` got lost at 80 columns."""
    footer = app.screen.query_one(Footer)
    keys = sorted(footer.query(FooterKey), key=lambda k: k.region.x)
    for key in keys:
        region = key.region
        assert region.width > 0 and region.x >= 0, (key.description, region)
        assert region.right <= app.size.width, (key.description, region)
        # The fitting's arithmetic is Textual's layout: what it counted is what was drawn.
        assert key_cells(key, footer.compact) == region.width + key.styles.margin.width, key.description
    for left, right in pairwise(keys):
        assert left.region.right <= right.region.x, (left.description, right.description)
    return {k.description: k.key_display for k in keys if k.description}


async def fitted(pilot: Any, expected: str) -> dict[str, str]:
    """The footer once it shows `expected`, with the keys list and quit."""
    await wait_for(pilot, lambda: {expected, "keys", "quit"} <= set(footer_keys(pilot.app)),
                   what=f"{expected!r}, keys and quit in the footer", timeout=10)
    await pilot.pause(0.1)
    keys = drawn_keys(pilot.app)
    assert keys.get("keys") in ("?", "f1") and keys.get("quit") in ("q", "^q"), keys
    return keys


async def left_out_are_listed(pilot: Any, shown: dict[str, str]) -> tuple[set[str], dict[str, str]]:
    """Every key the screen offers now that the footer left out is on `?`'s list; returns them, and
    the list (description -> keys)."""
    app = pilot.app
    screen = app.screen
    offered = {b.description for _, b, enabled, _ in screen.active_bindings.values() if b.show and enabled}
    left_out = offered - set(shown)
    await pilot.press("question_mark")
    help_screen = await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen,
                                 what="keys")
    listed = {description: key for key, description, _ in help_screen.rows}
    assert left_out <= set(listed)
    await pilot.press("escape")
    await wait_for(pilot, lambda: app.screen is screen, what="keys closed")
    return left_out, listed


@pytest.mark.parametrize("size", SIZES, ids=size_id)
async def test_home_shows_keys_and_quit(project: Path, size: tuple[int, int]) -> None:
    await seed_run(project, status="completed")
    app = PodiumApp(project)
    async with app.run_test(size=size) as pilot:
        keys = await fitted(pilot, "objective")  # the runs table has focus
        assert keys["quit"] == "q" and keys["keys"] == "?"
        await left_out_are_listed(pilot, keys)
        await pilot.press("f")
        keys = await fitted(pilot, "leave field")  # in the empty objective field
        assert keys["quit"] == "q" and keys["keys"] == "?"


async def test_an_empty_projects_home_shows_keys_and_quit_while_typing(project: Path) -> None:
    app = PodiumApp(project)
    async with app.run_test(size=(80, 24)) as pilot:
        _, field = await home_of_empty_project(pilot)
        await fitted(pilot, "leave field")
        await pilot.press(*"heat pumps")
        await wait_for(pilot, lambda: footer_keys(app).get("quit") == "^q", what="the typing keys")
        keys = await fitted(pilot, "leave field")
        assert keys["quit"] == "^q" and keys["keys"] == "f1" and field.value == "heat pumps"


@pytest.mark.parametrize("size", SIZES, ids=size_id)
@pytest.mark.parametrize(("status", "control", "key"), [("awaiting_approval", "approve", "a"),
                                                        ("running", "pause", "p"), ("review", "review", "v")])
async def test_the_run_screen_shows_keys_and_quit_in_every_phase(project: Path, size: tuple[int, int],
                                                                 status: str, control: str, key: str) -> None:
    await seed_run(project, status=status)
    app = PodiumApp(project)
    async with app.run_test(size=size) as pilot:
        screen = await open_run(pilot, app)
        keys = await fitted(pilot, control)
        assert keys[control] == key and "home" in keys
        left_out, listed = await left_out_are_listed(pilot, keys)
        if size == (80, 24):
            assert left_out  # the fitting did leave keys out here, and `?` lists them
        # ... and the keys the footer never shows.
        assert listed["plan pane"] == "1" and listed["board pane"] == "3"
        await pilot.press("3")  # the board pane (a tab at 80x24): its card's keys
        await wait_for(pilot, lambda: screen.pane == "board", what="board pane")
        await fitted(pilot, control)


async def test_a_replay_and_the_project_board_show_keys_and_quit_at_80_columns(project: Path) -> None:
    await seed_finished_run(project)
    await add_cards(project, "Compare heat pumps", "Check the tariffs")
    app = PodiumApp(project)
    async with app.run_test(size=(80, 24)) as pilot:
        replay = await open_run(pilot, app)
        keys = await fitted(pilot, "forward")
        assert keys["back"] == "←" and "home" in keys
        # The fork key follows the timeline (no plan yet at the start), though a replay has no control.
        await replay.action_step_to(0)
        await wait_for(pilot, lambda: "fork" not in footer_keys(app), what="no fork before the plan")
        await replay.action_step_to(-1)
        await wait_for(pilot, lambda: "fork" in footer_keys(app), what="the fork key at the end")
        _, listed = await left_out_are_listed(pilot, keys)
        assert listed["back 10"] == "pgup" and listed["end"] == "end"
        board = await open_board(pilot)
        await wait_for(pilot, lambda: board.board.selected() is not None, what="a card selected")
        keys = await fitted(pilot, "add")
        assert {"detail", "edit", "back"} <= set(keys)
        left_out, listed = await left_out_are_listed(pilot, keys)
        assert left_out and listed["column left"] == "←"


async def test_a_resized_terminal_refits_the_footer(project: Path) -> None:
    await seed_run(project, status="awaiting_approval")
    app = PodiumApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_run(pilot, app)
        wide = await fitted(pilot, "approve")
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: set(footer_keys(app)) < set(wide), what="fewer keys at 80")
        await fitted(pilot, "approve")
        await pilot.resize_terminal(120, 40)
        await wait_for(pilot, lambda: set(footer_keys(app)) == set(wide), what="all back at 120")


def test_every_ranked_footer_key_is_a_binding() -> None:
    ids = {b.id for b in APP_BINDINGS + HOME_BINDINGS + OBJECTIVE_BINDINGS + RUN_BINDINGS + REPLAY_BINDINGS
           + BOARD_BINDINGS}
    ranked = {f"podium.{name}" for names in FOOTER_RANKS for name in names}
    assert set(FOOTER_PINNED) <= ids and ranked <= ids, (set(FOOTER_PINNED) | ranked) - ids
