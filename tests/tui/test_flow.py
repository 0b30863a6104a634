"""The whole flow through the app on the scripted model, driven with Pilot like a person would."""

from __future__ import annotations

from pathlib import Path

from podium import events as ev
from podium.domain import ExecutionStatus, SubtaskStatus
from podium.store import ProjectStore
from podium.tui.app import PodiumApp
from podium.tui.screens.home import HomeScreen
from podium.tui.screens.modals import Confirm, Review, TextPrompt
from podium.tui.screens.run import ReplayScreen, RunScreen
from podium.tui.widgets.board import Board
from podium.tui.widgets.plan import PlanGraph, PlanPane
from podium.tui.widgets.transcripts import AgentLog, Transcripts
from tests.tui.conftest import SLOW, make_app, run_status, wait_for


async def start_run(pilot, objective: str) -> RunScreen:  # type: ignore[no-untyped-def]
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="home screen")
    await pilot.click("#objective")
    await pilot.press(*objective)
    await pilot.press("enter")
    screen = await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen,
                            what="run screen")
    return screen


async def start_running(pilot, objective: str) -> RunScreen:  # type: ignore[no-untyped-def]
    """Start a run (on the slow script), approve its plan and wait until t1 is running."""
    screen = await start_run(pilot, objective)
    await wait_for(pilot, lambda: screen.state.awaiting_approval, what="plan")
    await pilot.press("a")
    await wait_for(pilot, lambda: screen.state.subtasks["t1"].status is SubtaskStatus.RUNNING, what="t1")
    return screen


async def accept_review(pilot, screen: RunScreen) -> None:  # type: ignore[no-untyped-def]
    """The TUI runs with review="human": the result waits for the person; v, then accept."""
    await wait_for(pilot, lambda: screen.state.awaiting_review, what="result awaiting review")
    await wait_for(pilot, lambda: screen.rendered, what="drawn")
    await pilot.press("v")
    modal = await wait_for(pilot, lambda: isinstance(pilot.app.screen, Review) and pilot.app.screen,
                           what="review modal")
    await pilot.click("#accept")
    await wait_for(pilot, lambda: modal not in pilot.app.screen_stack, what="modal closed")


async def test_new_run_plan_approve_and_watch_it_complete(project: Path) -> None:
    app = make_app(project)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_run(pilot, "Brief on heat pumps")
        await wait_for(pilot, lambda: screen.state.awaiting_approval, what="plan awaiting approval")
        await wait_for(pilot, lambda: screen.rendered, what="drawn")
        # The plan is drawn as a graph and the wait is announced.
        graph = screen.query_one(PlanGraph)
        assert [t.id for t in graph.subtasks] == ["t1", "t2", "t3"]
        assert "plan awaits approval" in str(screen.query_one("#wait-banner").render())
        # Specialists' perspectives landed in their own tabs.
        transcripts = screen.query_one(Transcripts)
        assert {"researcher", "fact-checker", "writer"} <= set(transcripts.agents)

        await pilot.press("a")
        await accept_review(pilot, screen)
        await wait_for(pilot, lambda: screen.state.status is ExecutionStatus.COMPLETED, what="completion")
        await wait_for(pilot, lambda: screen.rendered, what="drawn")
        assert all(t.status is SubtaskStatus.DONE for t in screen.state.subtasks.values())
        board = screen.query_one(Board)
        done = board.query_one("#col-done")
        assert {c.card.subtask_id for c in done.query("Card")} == {"t1", "t2", "t3"}  # type: ignore[attr-defined]
        assert "3" in str(done.query_one("Label").render())
        assert await run_status(app, screen.run_id) == "completed"
        # The graph shows every node done.
        assert str(graph.render()).count("✔") == 3


async def test_reject_with_feedback_replans_and_keeps_the_rejected_plan(project: Path) -> None:
    app = make_app(project)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_run(pilot, "Brief on heat pumps")
        await wait_for(pilot, lambda: screen.state.awaiting_approval, what="plan v1")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt), what="feedback box")
        await pilot.press(*"Add a fact-check before writing")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: len(screen.state.plans) == 2 and screen.state.awaiting_approval,
                       what="plan v2")
        assert [t.id for t in screen.state.plan.plan.subtasks] == ["t1", "t2", "t3", "t4"]
        await wait_for(pilot, lambda: screen.rendered, what="drawn")
        rejected = screen.state.rejected_plans
        assert len(rejected) == 1 and rejected[0].feedback == "Add a fact-check before writing"
        history = screen.query_one(PlanPane).query_one("#plan-history")
        await wait_for(pilot, lambda: "fact-check before writing" in str(history.render()), what="history")
        assert "rejected" in str(history.render())
        # The diamond: t4 waits on t2 and t3, drawn with a junction.
        graph = str(screen.query_one(PlanGraph).render())
        assert "┴" in graph or "┘" in graph


async def test_pause_resume_guidance_halt_and_resume(project: Path) -> None:
    app = make_app(project, model=SLOW)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_running(pilot, "Two steps")

        # Pause: no further subtask starts while paused.
        await pilot.press("p")
        await wait_for(pilot, lambda: screen.state.status is ExecutionStatus.PAUSED, what="paused")
        await pilot.pause(2.0)  # longer than a turn: anything that could start would have
        events = await app.session.store.query("SELECT seq, type, payload FROM events WHERE execution_id = ?"
                                       " ORDER BY seq", (screen.run_id,))
        paused_at = max(r["seq"] for r in events
                        if r["type"] == ev.INTERVENTION and '"pause"' in r["payload"])
        started = [r["payload"] for r in events
                   if r["seq"] > paused_at and r["type"] == ev.SUBTASK_STATUS and '"running"' in r["payload"]]
        assert started == [] and screen.state.status is ExecutionStatus.PAUSED

        # Guidance (while paused): a modal, then an intervention recorded and shown in the transcript.
        await pilot.press("g")
        prompt = await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt) and app.screen, what="box")
        prompt.query_one("TextArea").text = "Use metric units"  # typing key by key outlasts the turn
        await pilot.press("ctrl+s")
        assert app.session.is_open
        everyone = screen.query_one("#log-all", AgentLog)
        await wait_for(pilot, lambda: any("Use metric units" in n for n in everyone.texts("guidance")),
                       what="guidance note")
        rows = await app.session.store.query("SELECT kind, text FROM interventions WHERE execution_id = ?",
                                     (screen.run_id,))
        assert ("guidance", "Use metric units") in [(r["kind"], r["text"]) for r in rows]

        await pilot.press("p")
        await wait_for(pilot, lambda: screen.state.status is ExecutionStatus.RUNNING, what="resumed")

        # Halt with confirmation; state is kept and p resumes it to the end.
        await wait_for(pilot, lambda: screen.state.subtasks["t2"].status is SubtaskStatus.RUNNING, what="t2")
        await pilot.pause(0.2)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), what="halt confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.state.status is ExecutionStatus.HALTED, what="halted")
        assert screen.state.subtasks["t1"].status is SubtaskStatus.DONE
        await wait_for(pilot, lambda: not app.is_live(screen.run_id), what="engine stopped")
        await pilot.press("p")
        await accept_review(pilot, screen)
        await wait_for(pilot, lambda: screen.state.status is ExecutionStatus.COMPLETED, what="completed")


async def test_export_then_open_the_archive_read_only(project: Path, tmp_path: Path) -> None:
    app = make_app(project)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_run(pilot, "Brief on heat pumps")
        await wait_for(pilot, lambda: screen.state.awaiting_approval, what="plan")
        await pilot.press("a")
        await accept_review(pilot, screen)
        await wait_for(pilot, lambda: screen.state.status.finished, what="finished")
        run_id = screen.run_id
        await pilot.press("e")
        prompt = await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt) and app.screen,
                                what="export")
        area = prompt.query_one("TextArea")
        area.text = str(tmp_path / "run.podium")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: (tmp_path / "run.podium").exists(), what="archive written")

    archive = tmp_path / "run.podium"
    before = archive.read_bytes()
    viewer = PodiumApp(archive, readonly=True)
    async with viewer.run_test(size=(120, 40)) as pilot:
        home = await wait_for(pilot, lambda: isinstance(viewer.screen, HomeScreen) and viewer.screen,
                              what="home")
        assert home.has_class("-readonly")
        assert "read-only" in str(home.query_one("#readonly-banner").render())
        await pilot.pause(0.2)
        await pilot.press("enter")
        replay = await wait_for(pilot, lambda: isinstance(viewer.screen, ReplayScreen) and viewer.screen,
                                what="replay")
        await wait_for(pilot, lambda: replay.loaded.is_set(), what="events loaded")
        assert replay.run_id == run_id
        total = len(replay.events)
        assert replay.cursor == total and replay.state.status is ExecutionStatus.COMPLETED
        # Step back through the timeline: the panes show the run as it was.
        await pilot.press("home")
        assert replay.cursor == 0 and not replay.state.subtasks
        for _ in range(total):
            await pilot.press("right")
            if replay.state.awaiting_approval:
                break
        assert replay.state.awaiting_approval and replay.cursor < total
        assert all(t.status is SubtaskStatus.PENDING for t in replay.state.subtasks.values())
        await wait_for(pilot, lambda: replay.transcripts_current, what="transcripts of that moment")
        notes = " ".join(replay.query_one("#log-all", AgentLog).notes())
        assert "plan v1 proposed" in notes and "approved" not in notes
        await pilot.press("end")
        assert replay.cursor == total
        # Controls that would change the file say so, and change nothing.
        for key in ("a", "g", "p", "x"):
            await pilot.press(key)
            await pilot.pause(0.05)
        assert isinstance(viewer.screen, ReplayScreen)
        assert any("read-only" in (n.message or "").lower() for n in viewer._notifications)
    assert archive.read_bytes() == before


async def test_follows_a_run_written_by_another_process(project: Path) -> None:
    """The run screen tails events_since: rows written through another store show up live."""
    writer = await ProjectStore.open(project)
    try:
        def create(tx):  # type: ignore[no-untyped-def]
            tx.execute("INSERT INTO executions (id, objective, team, status, created_at, updated_at)"
                       " VALUES ('r1', 'Elsewhere', 'research', 'running', 0, 0)")
            tx.emit(ev.RUN_CREATED, "r1", objective="Elsewhere", team="research", agents=["a1", "a2"],
                    leader="a1")

        await writer.write(create)
        app = PodiumApp(project)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), what="home")
            app.open_run("r1")
            screen = await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen,
                                    what="run")
            await wait_for(pilot, lambda: screen.loaded.is_set(), what="loaded")
            plan = {"subtasks": [{"id": "s1", "agent": "a1", "description": "first"},
                                 {"id": "s2", "agent": "a2", "description": "second", "depends_on": ["s1"]}]}
            await writer.append_event(ev.PLAN_PROPOSED, "r1", version=1, plan=plan, fallback=False)
            await wait_for(pilot, lambda: "s2" in screen.state.subtasks, what="plan from the other writer")
            board = screen.query_one(Board)
            await wait_for(pilot, lambda: board.card("s1") is not None, what="card")
            card = board.card("s1")
            await writer.append_event(ev.SUBTASK_STATUS, "r1", subtask_id="s1", agent="a1", status="running")
            await wait_for(pilot, lambda: board.card("s1") is not card, what="card moved to In progress")
            moved = board.card("s1")
            assert moved is not None and moved.parent is not None
            assert moved.card.column.value == "In progress"
            # A status change within the same column updates the same card (by key, not rebuilt).
            await writer.append_event(ev.SUBTASK_STATUS, "r1", subtask_id="s1", agent="a1",
                                      status="waiting_peer")
            await wait_for(pilot, lambda: moved.card.status is SubtaskStatus.WAITING_PEER, what="waiting")
            assert board.card("s1") is moved
            await writer.append_event(ev.HELP_REQUESTED, "r1", subtask_id="s2", agent="a2",
                                      question="Which currency?")
            await wait_for(pilot, lambda: screen.state.help_requests, what="help request")
            await wait_for(pilot, lambda: screen.rendered, what="drawn")
            assert "Which currency?" in str(screen.query_one("#wait-banner").render())
    finally:
        await writer.close()




async def test_quit_halts_a_running_execution_so_it_can_be_resumed(project: Path) -> None:
    app = make_app(project, model=SLOW)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_running(pilot, "Two steps")
        run_id = screen.run_id
        await pilot.press("q")
        await wait_for(pilot, lambda: app.exit_message is not None, what="exit message")
    assert app.exit_message is not None and run_id in app.exit_message
    store = await ProjectStore.open(project)
    try:
        row = await store.query_one("SELECT status FROM executions WHERE id = ?", (run_id,))
        assert row["status"] == "halted"
    finally:
        await store.close()
