"""Podium's Textual app: home (runs), run screens (live or replay), every control on a key.

The app holds one application session (podium.app.session: the project's
store, read-only for archives, and on first use the engine), whose long use
cases (plan, execute, resume) run as app-level workers in this event loop,
so leaving a run's screen never stops the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App
from textual.binding import Binding, BindingsMap
from textual.screen import Screen
from textual.widgets import Static

from podium.app.heartbeat import Heartbeat
from podium.app.live_plan import PlanChange, change_plan, decide_proposal
from podium.app.plan_edit import PlanEditError, edit_proposed_plan
from podium.app.queries import Queries
from podium.app.session import ProjectSession
from podium.errors import PodiumError
from podium.tui import heap
from podium.tui.commands import PaletteCommand, PodiumCommands
from podium.tui.keys import APP_BINDINGS, BOARD_CHANGING_ACTIONS, CHANGING_ACTIONS, load_keymap
from podium.tui.screens.board import BoardScreen
from podium.tui.screens.home import HomeScreen
from podium.tui.screens.modals import ErrorScreen, HelpScreen, TextPrompt, TooSmall
from podium.tui.screens.run import ReplayScreen, RunScreen
from podium.tui.themes import DEFAULT_THEME, load_themes

MIN_SIZE = (80, 24)
QUIT_GRACE_SECONDS = 3.0


class Loading(Screen[None]):
    def compose(self):  # type: ignore[no-untyped-def]
        yield Static("Opening the project…", id="loading")


class PodiumApp(App[None], inherit_bindings=False):
    TITLE = "Podium"
    CSS_PATH = "app.tcss"
    # Not inheriting App's: its ctrl+q would quit without halting a live run (APP_BINDINGS
    # binds ctrl+q to quit_podium), and the plain `q` must come first to show in the footer.
    BINDINGS = [*APP_BINDINGS, Binding("ctrl+c", "help_quit", show=False, system=True)]
    COMMANDS = App.COMMANDS | {PodiumCommands}
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, project: Path, *, session: ProjectSession | None = None, readonly: bool = False,
                 model: str | None = None, team: str | None = None, open_run: str | None = None,
                 theme: str | None = None) -> None:
        """`session`: the application session that runs agents (None: this app only shows runs;
        the project is still opened, read-only for an archive)."""
        super().__init__()
        self.project = Path(project)
        self.can_run = session is not None and not readonly
        self.session = session if session is not None else ProjectSession(self.project, readonly=readonly)
        self.readonly = readonly
        self.default_model = model or (session.model if session else None) or "local"
        self.default_team = team or (session.team if session else None) or "research"
        self.open_run_id = open_run
        self._gc_thresholds: tuple[int, int, int] | None = None
        self.podium_themes: list[str] = []
        self._wanted_theme = theme
        self._live: Counter[str] = Counter()
        self.exit_message: str | None = None
        self.heartbeat: Heartbeat | None = None  # the team's heartbeat, started from the board (w)
        self.leaving = False  # set by exit(): no key acts any more (a dialog opened now would crash)
        # Elapsed times are measured against this clock (tests fix it for stable snapshots).
        self.clock: Callable[[], float] = time.time

    def get_default_screen(self) -> Screen[Any]:
        return Loading()

    # ------------------------------------------------------------ start and stop

    async def on_mount(self) -> None:
        self._gc_thresholds = heap.tune()
        self._load_themes()
        keymap, problem = load_keymap()
        if keymap:
            self.set_keymap(keymap)
        if problem:
            self.notify(problem, severity="warning", timeout=8)
        try:
            await self.session.start()
        except PodiumError as exc:
            what = "archive" if self.readonly else "project"
            await self.push_screen(ErrorScreen(f"Cannot open this {what}", str(exc)))
            return
        await self.push_screen(HomeScreen())
        if self.open_run_id:
            self.open_run(self.open_run_id)
        self._check_size()

    async def on_unmount(self) -> None:
        if self._gc_thresholds is not None:
            heap.restore(self._gc_thresholds)
        # Stops what the engine started (MCP servers; pending approvals are denied), then closes
        # the store (always, even when stopping those fails: leaving anyway).
        with contextlib.suppress(Exception):
            await self.session.aclose()

    def _load_themes(self) -> None:
        themes, problems = load_themes()
        for theme in themes:
            self.register_theme(theme)
        self.podium_themes = [t.name for t in themes]
        for problem in problems:
            self.notify(problem, severity="warning", title="theme skipped", timeout=8)
        wanted = self._wanted_theme or DEFAULT_THEME
        if wanted in self.available_themes:
            self.theme = wanted
        elif self.podium_themes:
            self.theme = self.podium_themes[0]

    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int | None = None, height: int | None = None) -> None:
        if width is None or height is None:
            width, height = self.size
        small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        top = self.screen
        if small and not isinstance(top, TooSmall):
            self.push_screen(TooSmall(MIN_SIZE))
        elif small and isinstance(top, TooSmall):
            top.show(width, height)
        elif not small and isinstance(top, TooSmall):
            self.pop_screen()

    # ------------------------------------------------------------ data helpers

    @property
    def queries(self) -> Queries | None:
        """The typed queries over the open project (None until it is open)."""
        return self.session.queries if self.session.is_open else None

    def team_names(self) -> list[str]:
        if not self.can_run:
            return [self.default_team]
        try:
            return self.session.team_names()
        except PodiumError as exc:
            self.notify(str(exc), severity="error", title="teams")
            return []

    def is_live(self, run_id: str) -> bool:
        """Whether this process's engine is working on the run right now."""
        return self._live[run_id] > 0

    # ------------------------------------------------------------ navigation

    def open_board(self) -> None:
        if not isinstance(self.screen, BoardScreen):
            self.push_screen(BoardScreen())

    def action_open_board(self) -> None:
        self.open_board()

    def go_home(self) -> None:
        while len(self.screen_stack) > 2 and not isinstance(self.screen, HomeScreen):
            self.pop_screen()

    def open_run(self, run_id: str) -> None:
        self.run_worker(self._open_run(run_id), group="open-run", exit_on_error=False)

    async def _open_run(self, run_id: str) -> None:
        queries = self.queries
        try:
            run = None if queries is None else await queries.find_run(run_id)
        except PodiumError as exc:  # an ambiguous prefix
            self.notify(str(exc), severity="error")
            return
        if run is None:
            self.notify(f"No run {run_id!r} in {self.project}.", severity="error")
            return
        self.go_home()
        status = run.known_status
        finished = status.finished if status is not None else True
        replay = self.readonly or (finished and not self.is_live(run.id))
        await self.push_screen(ReplayScreen(run.id) if replay else RunScreen(run.id))

    # ------------------------------------------------------------ engine operations

    def _job(self, run_id: str | None, label: str, job: Callable[[ProjectSession], Awaitable[Any]]) -> None:
        """Run a use case as an app worker; errors become notifications, never tracebacks."""
        if not self.can_run or not self.session.is_open:
            self.notify("This session cannot run agents (no model configured).", severity="error")
            return
        session = self.session

        async def runner() -> None:
            key = run_id or ""
            self._live[key] += 1
            try:
                await session.engine_for(run_id)  # a run goes on as it was started
                await job(session)
            except PodiumError as exc:
                self.notify(str(exc), severity="error", title=label, timeout=10)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an engine bug must not take the UI down
                self.log.error(f"{label} failed", exc)
                self.notify(f"{label} failed: {type(exc).__name__}: {exc}", severity="error", timeout=10)
            finally:
                self._live[key] -= 1

        self.run_worker(runner(), group=f"engine-{run_id}", name=label, exit_on_error=False)

    def start_run(self, objective: str, team: str, model: str | None, *,
                  workspace: str | None = None) -> None:
        """A new run, planned at once; `workspace`: a folder of the user's to work on."""
        if self.readonly:
            self.notify("Read-only archive: new runs cannot be started here.", severity="warning")
            return
        self.notify("Starting the run…" if self.can_run else "", timeout=2)

        async def job(session: ProjectSession) -> None:
            run_id = (await session.create_run(objective, team, model=model, workspace=workspace)).id
            screen = RunScreen(run_id)
            self.go_home()
            await self.push_screen(screen)
            # Subscribe before planning starts so the first perspective streams too.
            await asyncio.wait_for(screen.loaded.wait(), 5)
            self._live[run_id] += 1
            try:
                await session.plan(run_id)
            finally:
                self._live[run_id] -= 1

        self._job(None, "new run", job)

    def fork(self, run_id: str, *, rerun_from: list[str], edits: dict[str, str]) -> None:
        """Fork the run (the rest of its finished work reused) and open the fork, awaiting approval."""
        if self.readonly:
            self.notify("Read-only archive: fork its runs into a project with `podium fork RUN --archive`.",
                        severity="warning")
            return

        async def job(session: ProjectSession) -> None:
            from podium.app.fork import ForkOptions, fork_run

            outcome = await fork_run(session, run_id, ForkOptions(rerun_from=rerun_from, edits=edits))
            record = outcome.record
            again = ", ".join(record.rerun) or "only the synthesis"
            self.notify(f"Fork {record.run_id}: {len(record.reused)} reused; runs again: {again}. "
                        "Approve its plan (a) to run it.", title="fork", timeout=8)
            self.go_home()
            await self.push_screen(RunScreen(record.run_id))

        self._job(None, "fork", job)

    def approve(self, run_id: str) -> None:
        self._job(run_id, "approve", lambda session: session.approve(run_id, execute=True))

    def reject(self, run_id: str, feedback: str) -> None:
        self._job(run_id, "reject", lambda session: session.reject(run_id, feedback))

    def resume(self, run_id: str) -> None:
        # When this process's engine is waiting on the run's pause, the pause is released.
        self._job(run_id, "resume",
                  lambda session: session.resume(run_id, paused_here=self._live[run_id] > 1))

    def pause(self, run_id: str) -> None:
        self._job(run_id, "pause", lambda session: session.pause(run_id))

    def halt(self, run_id: str) -> None:
        if not self.is_live(run_id):
            self.notify("The run is not running in this window; nothing to halt here.", severity="warning")
            return
        self._job(run_id, "halt", lambda session: session.halt(run_id))

    def guide(self, run_id: str, text: str, subtask_id: str | None) -> None:
        self._job(run_id, "guidance", lambda session: session.guide(run_id, text, subtask_id))

    def answer(self, run_id: str, subtask_id: str, text: str) -> None:
        self._job(run_id, "answer", lambda session: session.answer(run_id, subtask_id, text))

    def change_plan(self, run_id: str, change: PlanChange) -> None:
        """A change to the run's live graph (the living plan); what it did, as a notification."""
        async def apply(session: ProjectSession) -> None:
            self.notify(await change_plan(session, run_id, change, by="user", source="tui"),
                        title="plan changed")

        self._job(run_id, "plan change", apply)

    def decide_proposal(self, run_id: str, number: int, accept: bool, reason: str | None = None) -> None:
        """Accept (its changes join the live graph) or decline a pending proposal."""
        async def decide(session: ProjectSession) -> None:
            self.notify(await decide_proposal(session, run_id, number, accept=accept, reason=reason,
                                              by="user", source="tui"), title="proposal")

        self._job(run_id, "proposal", decide)

    def edit_proposed_plan(self, run_id: str, action: str, subtask_id: str | None,
                           fields: dict[str, Any]) -> None:
        """One change to the plan awaiting approval (add, edit or delete a subtask): the next plan
        version if it stays valid, else every problem in one notification (nothing saved)."""
        async def apply(session: ProjectSession) -> None:
            try:
                self.notify(await edit_proposed_plan(session, run_id, action, subtask_id, fields),
                            title="plan edited")
            except PlanEditError as exc:
                self.notify("\n".join(exc.errors), severity="error", title="plan not changed")

        self._job(run_id, "plan edit", apply)

    def decide_tool(self, approval_id: int, allow: bool) -> None:
        """Record the person's decision; the waiting agent (in any process) picks it up."""
        async def decide() -> None:
            try:
                await self.session.decide_tool(approval_id, allow, by="tui")
            except PodiumError as exc:
                self.notify(str(exc), severity="error", title="tool approval")

        self.run_worker(decide(), group="tool-approval", exit_on_error=False)

    def accept_result(self, run_id: str) -> None:
        """The person accepts the result awaiting review: the run ends completed (or partial)."""
        self._job(run_id, "accept", lambda session: session.accept(run_id, by="user", source="tui"))

    def rework(self, run_id: str, feedback: str, subtasks: list[str]) -> None:
        """Send the result back: the named subtasks (and what depends on them) run again with the
        feedback, or with none named only the synthesis; then it is reviewed again."""
        self._job(run_id, "rework",
                  lambda session: session.rework(run_id, feedback, subtasks or None, by="user", source="tui"))

    def toggle_heartbeat(self) -> None:
        """Start the team's heartbeat (it works To do by priority, waiting for new cards) or stop it
        (the runs in flight are halted; their cards resume with the next heartbeat or `podium work`)."""
        if self.readonly:
            self.notify("Read-only archive: the heartbeat cannot work it.", severity="warning")
            return
        if not self.can_run or not self.session.is_open:
            self.notify("This session cannot run agents (no model configured).", severity="error")
            return
        heartbeat = self.heartbeat
        if heartbeat is not None and heartbeat.running:
            heartbeat.stop()
            self.notify("Heartbeat stopping: runs in flight are halted; their cards resume next time.",
                        title="heartbeat", timeout=4)
            return
        heartbeat = Heartbeat(self.project, model=self.session.model, api_base=self.session.api_base,
                              on_change=self._heartbeat_changed)
        self.heartbeat = heartbeat
        self.run_worker(heartbeat.run(), group="heartbeat", exclusive=True, exit_on_error=False)
        self.notify("Heartbeat on: the team works To do by priority.", title="heartbeat", timeout=4)

    def _heartbeat_changed(self) -> None:
        """The heartbeat wrote to the file (through a session of its own): a board on screen lists
        the cards now rather than at its next look at the file."""
        for screen in self.screen_stack:
            if isinstance(screen, BoardScreen):
                screen.poke()

    async def _stop_heartbeat(self, deadline: float) -> bool:
        """Stop the heartbeat, if on, and give it until `deadline` to halt its runs; whether it was on."""
        heartbeat = self.heartbeat
        if heartbeat is None or not heartbeat.running:
            return False
        heartbeat.stop("the app was closed")
        while heartbeat.running and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        return True

    # ------------------------------------------------------------ app actions

    async def action_quit_podium(self) -> None:
        live = [rid for rid, n in self._live.items() if n > 0 and rid]
        if await self._stop_heartbeat(asyncio.get_running_loop().time() + QUIT_GRACE_SECONDS):
            self.exit_message = "stopped the heartbeat; `podium work` resumes its cards"
        if live and self.can_run and self.session.is_open:
            for run_id in live:
                with contextlib.suppress(PodiumError):  # it finished meanwhile
                    await self.session.halt(run_id, reason="the app was closed")
            # Give the workers a moment to write the halt; the state is durable either way.
            deadline = asyncio.get_running_loop().time() + QUIT_GRACE_SECONDS
            while any(self._live[r] for r in live) and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
            self.exit_message = "halted " + ", ".join(live) + "; continue with `podium resume RUN_ID`"
        self.exit()

    def exit(self, *args: Any, **kwargs: Any) -> None:
        self.leaving = True
        super().exit(*args, **kwargs)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A read-only archive offers no new run (the footer leaves `n` out); nothing acts once
        the app is leaving (a key typed right after `q`)."""
        if action == "open_board":  # not on the board itself
            return not (self.leaving or isinstance(self.screen, BoardScreen))
        return not (self.leaving or (action == "new_run" and self.readonly))

    def action_help_quit(self) -> None:
        """Ctrl+C copies; say which key quits instead."""
        keys = self.keys_for("quit_podium")
        if keys:
            self.notify(f"Press [b]{' or '.join(keys)}[/b] to quit Podium", title="Do you want to quit?")

    def bindings_of(self, node: Any) -> BindingsMap:
        """A node's own bindings as remapped by the keymap (unlike the screen's binding chain,
        including keys a focused text field would take)."""
        bindings = node._bindings.copy()
        if self._keymap:
            bindings.apply_keymap(self._keymap)
        return bindings

    def keys_for(self, action: str, *, ids: tuple[str, ...] = ()) -> list[str]:
        """The app's keys (as displayed) for an action, or for bindings with the given ids."""
        return [self.get_key_display(b) for _, b in self.bindings_of(self)
                if (b.id in ids if ids else b.action == action)]

    def action_exit_with_error(self) -> None:
        """Leave after the error screen: exit status 2, like the CLI's other user errors."""
        self.exit(return_code=2)

    def action_help(self) -> None:
        """Every key of the screen below (as remapped), including those that do not apply right now
        and those a text field with focus would take; an action's keys on one row."""
        keys: dict[tuple[int, str], list[str]] = {}
        rows: dict[tuple[int, str], tuple[str, str]] = {}
        # Not active_bindings: it omits what check_action hides from the footer, and the screen's
        # binding chain omits the keys a focused Input consumes.
        for namespace, _ in self.screen._modal_binding_chain:
            for _key, binding in self.bindings_of(namespace):
                # Podium's own keys the footer never shows too (1/2/3, page up...); not a widget's
                # (a text field's cursor keys).
                if not binding.description or not (binding.show or (binding.id or "").startswith("podium.")):
                    continue
                slot = (id(namespace), binding.action)
                display = self.get_key_display(binding)
                if slot in rows:
                    if display not in keys[slot]:
                        keys[slot].append(display)
                    continue
                applies = self._check_action_state(binding.action, namespace)
                note = binding.tooltip or ""
                if applies is False:
                    changing = (binding.action in CHANGING_ACTIONS or binding.action == "new_run"
                                or binding.action.split("(")[0] in BOARD_CHANGING_ACTIONS)
                    note += " (read-only)" if self.readonly and changing else " (not now)"
                keys[slot] = [display]
                rows[slot] = (binding.description, note)
        self.push_screen(HelpScreen([(" / ".join(keys[slot]), description, note)
                                     for slot, (description, note) in rows.items()]))

    def action_next_theme(self) -> None:
        names = self.podium_themes or [self.theme]
        index = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(index + 1) % len(names)]
        self.notify(f"Theme: {self.theme}", timeout=2)

    def action_new_run(self) -> None:
        if self.readonly:
            self.notify("Read-only archive: new runs cannot be started here.", severity="warning")
            return
        self.go_home()
        home = self.screen
        if isinstance(home, HomeScreen):
            home.action_focus_objective()

    def action_export(self) -> None:
        if not self.session.is_open:
            return
        default = f"{self.project.stem}-archive.podium"

        def done(target: str | None) -> None:
            if target:
                self.run_worker(self._export(Path(target).expanduser()), group="export", exit_on_error=False)

        self.push_screen(TextPrompt("Export the project as an archive", value=default,
                                    context="A compacted, verified single-file copy (safe while runs write).",
                                    send_label="Export"), done)

    async def _export(self, target: Path) -> None:
        try:
            info = await self.session.export_archive(target)
        except PodiumError as exc:
            self.notify(str(exc), severity="error", title="export")
            return
        self.notify(f"Exported {info.runs} runs to {target} ({info.size_bytes / 1024:.0f} KiB, "
                    f"integrity {info.integrity}).", title="export", timeout=8)

    def palette_commands(self) -> list[PaletteCommand]:
        commands: list[PaletteCommand] = [
            ("Export archive", "Write a single-file archive of the project", self.action_export),
            ("Keys", "Show every key", self.action_help),
            ("Project board", "The project's cards by column; the team's heartbeat", self.open_board),
        ]
        for name in self.podium_themes:
            commands.append((f"Theme: {name}", "Switch theme",
                             partial(setattr, self, "theme", name)))
        if not self.readonly:
            commands.append(("New run", "Start a new run", self.action_new_run))
        return commands

