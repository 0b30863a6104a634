"""App parts fed from the store: streaming transcripts, themes, keys, palette, bad input, small terminals."""

from __future__ import annotations

import os
from pathlib import Path

from textual.command import CommandPalette
from textual.widgets import TabbedContent

from podium import events as ev
from podium.domain import Event
from podium.store import ProjectStore
from podium.tui.app import PodiumApp
from podium.tui.commands import PodiumCommands
from podium.tui.screens.home import HomeScreen
from podium.tui.screens.modals import ErrorScreen, HelpScreen, TooSmall
from podium.tui.screens.run import RunScreen
from podium.tui.themes import load_themes, theme_dirs
from podium.tui.widgets.transcripts import AgentLog
from tests.tui.conftest import wait_for


async def seed_run(project: Path, status: str = "running") -> None:
    store = await ProjectStore.open(project)

    def create(tx):  # type: ignore[no-untyped-def]
        tx.execute("INSERT INTO executions (id, objective, team, status, created_at, updated_at)"
                   " VALUES ('r1', 'Heat pumps', 'research', ?, 0, 0)", (status,))
        tx.emit(ev.RUN_CREATED, "r1", objective="Heat pumps", team="research", agents=["ana", "bob"],
                leader="ana")
        tx.emit(ev.RUN_STATUS, "r1", status=status)
        tx.emit(ev.PLAN_PROPOSED, "r1", version=1, fallback=False, plan={"subtasks": [
            {"id": "t1", "agent": "ana", "description": "Collect"},
            {"id": "t2", "agent": "bob", "description": "Write", "depends_on": ["t1"]}]})

    await store.write(create)
    await store.close()


async def open_run(pilot, app: PodiumApp) -> RunScreen:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="home")
    app.open_run("r1")
    screen = await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen, what="run")
    await wait_for(pilot, lambda: screen.loaded.is_set(), what="loaded")
    return screen


async def test_stream_deltas_are_batched_into_markdown_and_replaced_by_the_message(project: Path) -> None:
    await seed_run(project)
    app = PodiumApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_run(pilot, app)
        assert app.session.is_open
        writes = 0
        everyone = screen.query_one("#log-all", AgentLog)
        agent_log = screen.query_one("#log-tab-ana", AgentLog)
        original = everyone.stream

        def counting(*args):  # type: ignore[no-untyped-def]
            nonlocal writes
            writes += 1
            original(*args)

        everyone.stream = counting  # type: ignore[method-assign]
        words = [f"word{i} " for i in range(300)]
        app.session.store.bus.publish(Event(execution_id="r1", type=ev.STREAM_DELTA,
                                    payload={"agent": "ana", "subtask_id": "t1", "phase": "execution",
                                             "text": w}) for w in words)

        def text(log: AgentLog) -> str:
            return "".join(log.texts("message"))

        await wait_for(pilot, lambda: "word299" in text(everyone), what="streamed text")
        assert 1 <= writes < 30  # 300 deltas, a handful of frames
        # The hidden agent tab got nothing yet; showing it writes its buffered text at once.
        assert text(agent_log) == ""
        screen.query_one(TabbedContent).active = "tab-ana"
        await wait_for(pilot, lambda: "word299" in text(agent_log), what="text in the agent tab")
        await app.session.store.append_event(ev.MESSAGE_ADDED, "r1", message_id=1, agent="ana",
                                             subtask_id="t1", role="assistant", phase="execution",
                                             content="The **final** text.")
        for log in (everyone, agent_log):
            await wait_for(pilot, lambda log=log: text(log) == "The **final** text.", what="final message")
            assert len(log.texts("message")) == 1  # the streamed block became the message


async def test_consultation_guidance_memory_and_tools_are_styled_apart(project: Path) -> None:
    await seed_run(project)
    app = PodiumApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_run(pilot, app)
        assert app.session.is_open
        for type, payload in [
            (ev.CONSULTATION_STARTED, {"asker": "ana", "peer": "bob", "question": "Is COP 3.1 plausible?"}),
            (ev.CONSULTATION_FINISHED, {"asker": "ana", "peer": "bob", "answer": "Yes, cite NVE."}),
            (ev.INTERVENTION, {"kind": "guidance", "text": "Use metric units [not imperial]"}),
            (ev.MEMORY_RECALLED, {"agent": "ana", "subtask_id": "t1",
                                  "items": [{"id": 1, "text": "Customers are in Tromsø", "kind": "fact",
                                             "score": 0.82}]}),
            (ev.TOOL_CALLED, {"agent": "ana", "subtask_id": "t1", "tool": "read_file",
                              "arguments": {"path": "a.txt"}, "result": "hello"}),
        ]:
            await app.session.store.append_event(type, "r1", **payload)
        everyone = screen.query_one("#log-all", AgentLog)
        await wait_for(pilot, lambda: everyone.texts("tool"), what="tool note")
        text = {kind: " ".join(everyone.texts(kind)) for kind in ("consult", "guidance", "memory", "tool")}
        assert "Is COP 3.1 plausible?" in text["consult"] and "cite NVE" in text["consult"]
        assert "[not imperial]" in text["guidance"]  # user text is not parsed as markup
        assert "Tromsø" in text["memory"] and "0.82" in text["memory"]
        assert "read_file" in text["tool"] and "hello" in text["tool"]
        # The asker's and the peer's tabs both carry the consultation.
        for agent in ("ana", "bob"):
            assert screen.query_one(f"#log-tab-{agent}", AgentLog).texts("consult")


async def test_shipped_themes_load_and_a_broken_one_is_reported_once_and_skipped(tmp_path: Path) -> None:
    themes, problems = load_themes()
    names = {t.name for t in themes}
    assert {"podium-dark", "podium-light"} <= names and problems == []
    user = Path(os.environ["PODIUM_CONFIG_DIR"]) / "themes"
    user.mkdir(parents=True)
    (user / "broken.toml").write_text("name = 'broken'\nprimary = 'not-a-colour'\n")
    (user / "garbled.yaml").write_text("name: [unclosed\n")
    (user / "mine.yaml").write_text("name: mine\nprimary: '#ff0000'\ndark: true\n")
    assert user in theme_dirs()
    app = PodiumApp(tmp_path / "p.podium")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="home")
        skipped = [n.message for n in app._notifications if "skipped" in n.message]
        assert len(skipped) == 2 and any("broken.toml" in m and "colour" in m for m in skipped)
        assert app.theme == "podium-dark" and "mine" in app.podium_themes
        order = list(app.podium_themes)
        await app.run_action("next_theme")  # the objective field has focus, so `t` would be typed
        assert app.theme == order[(order.index("podium-dark") + 1) % len(order)]


async def test_keys_can_be_remapped_and_the_help_screen_shows_the_mapping(project: Path) -> None:
    config = Path(os.environ["PODIUM_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "keymap.toml").write_text('[keys]\n"podium.guide" = "G"\n"podium.nonsense" = "z"\n')
    await seed_run(project)
    app = PodiumApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_run(pilot, app)
        assert any("unknown binding ids podium.nonsense" in n.message for n in app._notifications)
        await pilot.press("question_mark")
        help_screen = await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen,
                                     what="help")
        rows = {description: key for key, description, _ in help_screen.rows}
        assert rows["guide"] == "G" and rows["approve"] == "a" and rows["halt"] == "x"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, what="back")


async def test_the_palette_offers_what_applies_now(project: Path) -> None:
    await seed_run(project, status="awaiting_approval")
    app = PodiumApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_run(pilot, app)
        titles = [t for t, _, _ in screen.palette_commands()]
        assert "Approve plan" in titles and "Pause run" not in titles
        assert "Select subtask t2 (bob)" in titles
        provider = PodiumCommands(screen)
        found = [hit.text async for hit in provider.search("approve")]
        assert any("Approve plan" in str(t) for t in found)
        await app.session.store.append_event(ev.RUN_STATUS, "r1", status="running")  # type: ignore[union-attr]
        await wait_for(pilot, lambda: screen.state.status.value == "running", what="running")
        titles = [t for t, _, _ in screen.palette_commands()]
        assert "Approve plan" not in titles and "Pause run" in titles
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")


async def test_a_file_that_is_not_a_project_gets_an_error_screen(tmp_path: Path) -> None:
    bad = tmp_path / "notes.podium"
    bad.write_text("just text\n" * 50)
    for readonly in (False, True):
        app = PodiumApp(bad, readonly=readonly)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await wait_for(pilot, lambda a=app: isinstance(a.screen, ErrorScreen) and a.screen,
                                    what="error screen")
            assert "not a Podium project" in screen.reason
            await pilot.press("q")
        assert bad.read_text().startswith("just text")


async def test_too_small_a_terminal_says_the_minimum(project: Path) -> None:
    app = PodiumApp(project)
    async with app.run_test(size=(60, 20)) as pilot:
        small = await wait_for(pilot, lambda: isinstance(app.screen, TooSmall) and app.screen, what="message")
        assert "80x24" in str(small.query_one("#too-small").render())
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="home again")


async def test_at_80x24_the_panes_become_tabs(project: Path) -> None:
    await seed_run(project)
    app = PodiumApp(project)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(pilot, app)
        assert screen.has_class("-narrow")
        def shown(selector: str) -> bool:
            return screen.query_one(selector).region.area > 0

        assert shown("#plan-pane") and not shown("#board") and not shown("#transcripts")
        await pilot.press("3")
        assert shown("#board") and not shown("#plan-pane")
        await pilot.press("2")
        assert shown("#transcripts") and not shown("#board") and not shown("#plan-pane")
        await pilot.resize_terminal(120, 40)
        assert not screen.has_class("-narrow")
        assert all(shown(f"#{p}") for p in ("plan-pane", "transcripts", "board"))


async def test_transcripts_follow_unless_scrolled_up_then_say_text_is_below(project: Path) -> None:
    await seed_run(project)
    app = PodiumApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_run(pilot, app)
        assert app.session.is_open
        log = screen.query_one("#log-all", AgentLog)

        async def burst(n: int, start: int) -> None:
            for i in range(start, start + n):
                await app.session.store.append_event(ev.SUBTASK_STATUS, "r1", subtask_id="t1", agent="ana",  # type: ignore[union-attr]
                                             status="running" if i % 2 else "waiting_peer")

        await burst(60, 0)
        await wait_for(pilot, lambda: len(log.entries) >= 60 and log.max_scroll_y > 0, what="notes")
        await pilot.pause(0.2)
        assert log.scroll_y == log.max_scroll_y and not log.behind
        log.release_anchor()  # what a person scrolling up does
        log.scroll_home(immediate=True, animate=False)
        await burst(5, 60)
        await wait_for(pilot, lambda: log.behind, what="new-text marker")
        assert log.scroll_y == 0
        log.scroll_end(immediate=True, animate=False)
        await wait_for(pilot, lambda: not log.behind and log.following, what="following again")


async def test_a_tool_call_waiting_for_approval_is_loud_and_decided_with_y(project: Path) -> None:
    await seed_run(project)
    app = PodiumApp(project)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_run(pilot, app)
        assert app.session.is_open

        def ask(tx):  # type: ignore[no-untyped-def]
            cur = tx.execute("INSERT INTO tool_approvals (execution_id, subtask_id, agent, tool, arguments,"
                             " status, created_at) VALUES ('r1', 't1', 'ana', 'shell', '{}', 'pending', 0)")
            tx.emit(ev.TOOL_APPROVAL_REQUESTED, "r1", id=cur.lastrowid, subtask_id="t1", agent="ana",
                    tool="shell", arguments={"command": "ls"})

        await app.session.store.write(ask)
        await wait_for(pilot, lambda: screen.state.tool_approvals and screen.rendered, what="request")
        assert "ana wants to run shell" in str(screen.query_one("#wait-banner").render())
        await pilot.press("y")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "Confirm", what="confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: not screen.state.tool_approvals, what="decision folded in")
        row = await app.session.store.query_one("SELECT status, decided_by FROM tool_approvals")
        assert (row["status"], row["decided_by"]) == ("approved", "tui")
