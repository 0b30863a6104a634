"""Which keys the footer offers, and that they act: the home screen's keys while typing, and only
the controls that can act now (none in a replay of an archive)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import DataTable, Footer, Input
from textual.widgets._footer import FooterKey

from podium import events as ev
from podium.store import ProjectStore
from podium.tui.app import PodiumApp
from podium.tui.keys import CHANGING_ACTIONS
from podium.tui.screens.home import HomeScreen
from podium.tui.screens.modals import HelpScreen
from podium.tui.screens.run import ReplayScreen, RunScreen
from tests.tui.conftest import wait_for
from tests.tui.test_app_parts import open_run, seed_run


def footer_keys(app: PodiumApp) -> dict[str, str]:
    """What the footer on screen shows: description -> key as displayed."""
    footer = app.screen.query_one(Footer)
    return {k.description: k.key_display for k in footer.query(FooterKey) if k.description}


def active_actions(app: PodiumApp) -> set[str]:
    return {b.action for _, b, _, _ in app.screen.active_bindings.values()}


async def settled_footer(pilot: Any, expected: Any, what: str) -> dict[str, str]:
    """The footer recomposes after a refresh; wait until `expected(keys)` holds."""
    await wait_for(pilot, lambda: expected(footer_keys(pilot.app)), what=what, timeout=10)
    return footer_keys(pilot.app)


async def home_of_empty_project(pilot: Any) -> tuple[HomeScreen, Input]:
    app = pilot.app
    home = await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen) and app.screen, what="home")
    field = home.query_one("#objective", Input)
    await wait_for(pilot, lambda: app.focused is field, what="the objective field has focus")
    return home, field


async def test_on_an_empty_project_question_mark_opens_the_keys_and_q_quits(project: Path) -> None:
    app = PodiumApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        home, field = await home_of_empty_project(pilot)
        await pilot.press("question_mark")
        help_screen = await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen,
                                     what="the keys")
        rows = {description: key for key, description, _ in help_screen.rows}
        # Every key, including those the field would take and those that work while typing.
        assert rows["quit"] == "q / ^q" and rows["keys"] == "? / f1"
        assert rows["theme"] == "t" and rows["new run"] == "n" and rows["leave field"] == "esc"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is home, what="back home")
        assert field.value == "" and app.focused is field
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="quit")
    assert field.value == ""


async def test_with_text_in_the_field_q_and_question_mark_type_and_the_footer_shows_typing_keys(
        project: Path) -> None:
    app = PodiumApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        home, field = await home_of_empty_project(pilot)
        keys = await settled_footer(pilot, lambda k: "quit" in k and "leave field" in k, "footer")
        # Empty field: q and ? act, Esc leaves; nothing that would be typed is offered.
        assert keys["quit"] == "q" and keys["keys"] == "?" and keys["leave field"] == "esc"
        assert "theme" not in keys and "new run" not in keys and "objective" not in keys
        await pilot.press(*"heat q?")
        assert field.value == "heat q?" and isinstance(app.screen, HomeScreen)
        keys = await settled_footer(pilot, lambda k: k.get("quit") == "^q", "typing keys")
        assert keys["keys"] == "f1" and keys["leave field"] == "esc"
        assert "q" not in {b.key for _, b, _, _ in app.screen.active_bindings.values()}
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="keys while typing")
        await pilot.press("f1")
        await wait_for(pilot, lambda: app.screen is home, what="closed")
        assert field.value == "heat q?"
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, what="quit while typing")


async def test_escape_leaves_the_field_for_the_runs_and_then_every_home_key_acts(project: Path) -> None:
    app = PodiumApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        home, field = await home_of_empty_project(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.focused is home.query_one("#runs", DataTable), what="runs table")
        keys = await settled_footer(pilot, lambda k: "theme" in k, "home keys")
        assert {"quit", "keys", "theme", "export", "new run", "objective"} <= set(keys)
        assert keys["quit"] == "q" and "leave field" not in keys
        theme = app.theme
        await pilot.press("t")
        assert app.theme != theme and field.value == ""
        await pilot.press("f")
        await wait_for(pilot, lambda: app.focused is field, what="back in the field")
        await pilot.press("t")
        assert field.value == "t"


async def test_a_remapped_quit_key_acts_on_the_empty_field_and_the_old_one_types(project: Path) -> None:
    config = Path(__import__("os").environ["PODIUM_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "keymap.toml").write_text('[keys]\n"podium.quit" = "Q"\n')
    app = PodiumApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        _, field = await home_of_empty_project(pilot)
        await settled_footer(pilot, lambda k: "quit" in k, "footer")
        assert app.screen.active_bindings["Q"].binding.action == "quit_podium"
        assert "q" not in app.screen.active_bindings
        await pilot.press("q")
        assert field.value == "q"
        field.value = ""
        await pilot.press("Q")
        await wait_for(pilot, lambda: not app.is_running, what="quit with the remapped key")


async def seed_finished_run(project: Path) -> None:
    """A run whose log passes through every state a control acts on, then completes."""
    await seed_run(project, status="awaiting_approval")
    store = await ProjectStore.open(project)

    def go(tx):  # type: ignore[no-untyped-def]
        tx.emit(ev.RUN_STATUS, "r1", status="running")
        tx.emit(ev.HELP_REQUESTED, "r1", subtask_id="t1", agent="ana", question="Which city?")
        tx.emit(ev.RUN_STATUS, "r1", status="review")
        tx.emit(ev.RUN_STATUS, "r1", status="completed")
        tx.execute("UPDATE executions SET status = 'completed' WHERE id = 'r1'")

    await store.write(go)
    await store.close()


async def test_replaying_an_archive_offers_no_control_and_no_new_run(project: Path) -> None:
    await seed_finished_run(project)
    app = PodiumApp(project, readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        home = await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen) and app.screen, what="home")
        await wait_for(pilot, lambda: home.query_one("#runs", DataTable).row_count == 1, what="runs")
        keys = await settled_footer(pilot, lambda k: "quit" in k, "home footer")
        assert "new run" not in keys and "objective" not in keys and {"quit", "keys", "export"} <= set(keys)
        assert not {"new_run", "focus_objective"} & active_actions(app)
        await pilot.press("n")  # bound to nothing here, but says why
        await wait_for(pilot, lambda: any("new runs cannot be started" in str(n.message)
                                          for n in app._notifications), what="a read-only notice")
        assert isinstance(app.screen, HomeScreen) and app.focused is home.query_one("#runs")

        await pilot.press("enter")
        replay = await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen) and app.screen,
                                what="replay")
        await wait_for(pilot, lambda: replay.loaded.is_set() and replay.rendered, what="loaded")
        await settled_footer(pilot, lambda k: "forward" in k, "replay footer")
        # Every moment of the timeline: the plan awaiting approval, the help request, the review.
        seen = set()
        for index in range(len(replay.events) + 1):
            await replay.action_step_to(index)
            await pilot.pause(0.05)
            seen |= {s for s, on in [("approval", replay.state.awaiting_approval),
                                     ("help", bool(replay.state.help_requests)),
                                     ("review", replay.state.awaiting_review)] if on}
            assert not CHANGING_ACTIONS & active_actions(app), index
            assert not {"approve", "reject", "guide", "pause", "halt", "help-answer", "review",
                        "tool ok?"} & set(footer_keys(app)), index
            assert not any(title.startswith(("Approve", "Reject", "Pause", "Resume", "Halt", "Guide",
                                             "Answer", "Review"))
                           for title, _, _ in replay.palette_commands())
        assert seen == {"approval", "help", "review"}
        assert {"back", "forward", "home", "quit", "keys"} <= set(footer_keys(app))
        # A control's key says why it does nothing.
        await pilot.press("a")
        await wait_for(pilot, lambda: any("read-only" in str(n.message).lower() for n in app._notifications),
                       what="a read-only notice")
        # `?` still lists every key, saying which cannot act here.
        await pilot.press("question_mark")
        help_screen = await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen,
                                     what="keys")
        notes = {description: note for _, description, note in help_screen.rows}
        assert notes["approve"].endswith("(read-only)") and notes["halt"].endswith("(read-only)")


async def test_on_a_live_run_approve_shows_only_while_a_plan_awaits_approval(project: Path) -> None:
    await seed_run(project, status="awaiting_approval")
    app = PodiumApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_run(pilot, app)
        assert isinstance(screen, RunScreen) and not screen.replay
        keys = await settled_footer(pilot, lambda k: "approve" in k, "approve offered")
        assert keys["approve"] == "a" and keys["reject"] == "r"
        assert not {"pause", "halt", "guide", "help-answer", "review", "tool ok?"} & set(keys)
        assert app.session.is_open

        await app.session.store.append_event(ev.RUN_STATUS, "r1", status="running")
        keys = await settled_footer(pilot, lambda k: "approve" not in k and "pause" in k, "running keys")
        assert "reject" not in keys and "guide" in keys
        # No engine in this window drives it: halting here could not act.
        assert "halt" not in keys and "help-answer" not in keys and "review" not in keys
        await pilot.press("a")
        assert isinstance(app.screen, RunScreen)  # nothing waits: the key does nothing

        await app.session.store.append_event(ev.HELP_REQUESTED, "r1", subtask_id="t1", agent="ana",
                                     question="Which city?")
        keys = await settled_footer(pilot, lambda k: "help-answer" in k, "help request")
        await app.session.store.append_event(ev.RUN_STATUS, "r1", status="review")
        keys = await settled_footer(pilot, lambda k: "review" in k and "pause" not in k, "review offered")
        await app.session.store.append_event(ev.RUN_STATUS, "r1", status="completed")
        keys = await settled_footer(pilot, lambda k: "review" not in k, "finished")
        assert not {"approve", "reject", "guide", "pause", "halt", "review", "tool ok?"} & set(keys)


async def test_back_from_a_run_the_runs_table_has_focus_so_the_home_keys_act(project: Path) -> None:
    await seed_run(project, status="completed")
    app = PodiumApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        home = await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen) and app.screen, what="home")
        table = home.query_one("#runs", DataTable)
        await wait_for(pilot, lambda: table.row_count == 1, what="runs")
        await pilot.press("f")
        await wait_for(pilot, lambda: app.focused is home.query_one("#objective"), what="field")
        await pilot.press("enter")  # an empty objective: a warning, the field keeps focus
        app.open_run("r1")
        replay = await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen) and app.screen,
                                what="replay")
        await wait_for(pilot, lambda: replay.loaded.is_set(), what="loaded")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is home and app.focused is table, what="runs focused")
        keys = await settled_footer(pilot, lambda k: "theme" in k, "home keys")
        assert keys["quit"] == "q" and "new run" in keys


async def test_keys_typed_right_after_quit_open_nothing(project: Path) -> None:
    """`q` then `e` before the app has gone: the export box must not open on a closing app."""
    app = PodiumApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        home, _ = await home_of_empty_project(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.focused is home.query_one("#runs"), what="runs")
        app.exit()
        assert not await app.run_action("export") and not await app.run_action("help")
        assert app.screen is home
