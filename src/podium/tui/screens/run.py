"""The run screen: plan graph, transcripts and board, live or replayed.

Live: follows the run through `store.bus` (this process's engine, with
streamed tokens) and by tailing `store.events_since` (a run driven from
another process). Replay: the run's whole event log with a timeline;
left/right step through it and every pane shows that moment. Either way
the screen folds events into a RunState view; it never owns state.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from podium import events as ev
from podium.app.halt_words import is_stop_request
from podium.domain import Event, ExecutionStatus, SubtaskStatus
from podium.tui import heap
from podium.tui.commands import PaletteCommand
from podium.tui.keys import CHANGING_ACTIONS, REPLAY_BINDINGS, RUN_BINDINGS
from podium.tui.screens.fork import ForkActions
from podium.tui.screens.modals import Confirm, Review, ReviewChoice, TextPrompt
from podium.tui.screens.run_images import ImageActions
from podium.tui.screens.run_tasks import TASK_WORDS, PlanChangeActions
from podium.tui.screens.workspace_diff import WorkspaceDiffActions
from podium.tui.state import RunState
from podium.tui.widgets.board import Board
from podium.tui.widgets.footer import KeyFooter
from podium.tui.widgets.plan import PlanGraph, PlanPane
from podium.tui.widgets.status import RunTitle, StatusBar, Timeline, WaitBanner
from podium.tui.widgets.transcripts import Transcripts

if TYPE_CHECKING:
    from podium.tui.app import PodiumApp

PANES = ("plan", "transcripts", "board")
NARROW_WIDTH = 110
NARROW_HEIGHT = 32
POLL_SECONDS = 0.5
RENDER_SECONDS = 0.1
REBUILD_SECONDS = 0.25  # replay: rebuild transcripts once stepping pauses this long
# The actions whose keys come and go with the run's state (check_action): the footer is refreshed
# when one changes. Not only the controls: a replay offers none but its fork key follows the plan.
FOOTER_FOLLOWS = sorted(CHANGING_ACTIONS | {"fork_run", "open_image", "workspace_diff"})
# "cannot …": what each control would have done (the notice when it cannot).
CHANGE_WORDS = {"approve": "approve a plan", "reject": "reject a plan", "guide": "send guidance",
                "pause": "pause or resume", "halt": "halt", "answer": "answer a help request",
                "review": "review", "tool_approval": "decide on a tool call", **TASK_WORDS}


class PaneSwitcher(Static):
    """At 80x24 the panes take turns: 1 plan, 2 transcripts, 3 board."""

    def show(self, active: str) -> None:
        text = Text()
        for number, pane in enumerate(PANES, start=1):
            label = f" {number} {pane.capitalize()} "
            text.append(label, "bold reverse" if pane == active else "")
            text.append(" ")
        text.append("  (1/2/3 switch panes)", "dim")
        self.update(text)


class RunScreen(PlanChangeActions, WorkspaceDiffActions, ImageActions, ForkActions, Screen[None]):
    DEFAULT_CSS = """
    RunScreen #pane-tabs { display: none; height: 1; background: $boost; }
    RunScreen.-narrow #pane-tabs { display: block; }
    RunScreen #top { height: 3fr; }
    RunScreen #plan-pane { width: 47; min-width: 40; }
    RunScreen #transcripts { width: 1fr; }
    RunScreen #board { height: 2fr; min-height: 8; }
    RunScreen.-narrow #top { height: 1fr; }
    RunScreen.-narrow #plan-pane { width: 1fr; }
    RunScreen.-narrow #board { height: 1fr; }
    RunScreen.-narrow.-show-board #top { display: none; }
    RunScreen.-narrow.-show-plan #transcripts, RunScreen.-narrow.-show-plan #board { display: none; }
    RunScreen.-narrow.-show-transcripts #plan-pane,
    RunScreen.-narrow.-show-transcripts #board { display: none; }
    """

    def __init__(self, run_id: str, *, replay: bool = False) -> None:
        super().__init__(id=f"run-{run_id}")
        self.run_id = run_id
        self.replay = replay
        self.state = RunState(run_id)
        self.events: list[Event] = []  # replay: the whole log
        self.cursor = 0  # replay: events[:cursor] are shown
        self.pane = "plan"
        self._dirty = True
        self._step_lock = asyncio.Lock()
        self._note: str | None = None
        self._applicable: tuple[bool | None, ...] = ()
        self._transcripts_stale = False
        self._rebuild_timer: Timer | None = None
        self.loaded = asyncio.Event()

    BINDINGS = RUN_BINDINGS  # type: ignore[assignment]  # Bindings only; the base allows tuples too

    @property
    def podium(self) -> PodiumApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield RunTitle(id="run-title")
        yield WaitBanner(id="wait-banner")
        yield PaneSwitcher(id="pane-tabs")
        with Horizontal(id="top"):
            yield PlanPane(id="plan-pane")
            yield Transcripts(id="transcripts")
        yield Board(id="board")
        if self.replay:
            yield Timeline(id="timeline")
        yield StatusBar(id="status-bar")
        yield KeyFooter()

    async def on_mount(self) -> None:
        self._apply_layout()
        self.set_interval(RENDER_SECONDS, self._render_if_dirty, name="run-render")
        self.set_interval(1.0, self._tick, name="run-clock")
        await self._seed_headline()
        if self.replay:
            self._load_replay()
        else:
            self._follow()
        self.query_one(PlanGraph).focus()

    async def _seed_headline(self) -> None:
        """The run's headline from its row (older runs may lack the events that carry it)."""
        queries = self.podium.queries
        headline = None if queries is None else await queries.headline(self.run_id)
        if headline is not None:
            # The flat shape of an executions row, which the state seeds from.
            row = {**headline.model_dump(exclude={"usage"}), **headline.usage.model_dump()}
            self.state.seed_from_row(row)

    # ------------------------------------------------------------ layout

    def on_resize(self) -> None:
        self._apply_layout()

    def _apply_layout(self) -> None:
        narrow = self.size.width < NARROW_WIDTH or self.size.height < NARROW_HEIGHT
        self.set_class(narrow, "-narrow")
        for pane in PANES:
            self.set_class(pane == self.pane, f"-show-{pane}")
        self.query_one(PaneSwitcher).show(self.pane)

    def action_pane(self, pane: str) -> None:
        self.pane = pane
        self._apply_layout()
        target = {"plan": "#plan-graph", "transcripts": "#transcripts", "board": "#board"}[pane]
        widget = self.query_one(target)
        if pane == "plan":
            widget.focus()
        elif pane == "transcripts":
            self.query_one(Transcripts).focus_visible_log()
        else:
            widget.focus(scroll_visible=False) if widget.can_focus else self._focus_within(widget)

    def _focus_within(self, widget) -> None:  # type: ignore[no-untyped-def]
        for child in widget.query("*"):
            if child.focusable:
                child.focus()
                return

    # ------------------------------------------------------------ events in

    async def ingest(self, event: Event) -> None:
        """Fold one event into the view; a display failure is reported, never fatal to following."""
        try:
            await self._ingest(event)
        except Exception as exc:
            self.log.error("event display failed", event, exc)
            self.notify(f"could not show a {event.type} event: {type(exc).__name__}: {exc}", severity="error")

    async def _ingest(self, event: Event) -> None:
        if self.state.apply(event) or event.type != ev.STREAM_DELTA:
            self._dirty = True
        self.note_workspace(event)
        self.note_image(event)
        if event.type == ev.RUN_CREATED and self.state.agents:
            await self.query_one(Transcripts).add_agents(self.state.agents)
        await self.query_one(Transcripts).handle(event)

    @work(group="follow", exclusive=True, exit_on_error=False)
    async def _follow(self) -> None:
        async with self.podium.session.subscribe(self.run_id) as queue:
            await self._catch_up()  # after subscribing, so nothing falls in between
            heap.settle()
            self.loaded.set()
            while True:
                try:
                    first = await asyncio.wait_for(queue.get(), POLL_SECONDS)
                except TimeoutError:
                    await self._catch_up()  # another process may be writing this run
                    continue
                batch = [first]
                while not queue.empty():
                    batch.append(queue.get_nowait())
                for event in batch:
                    if event.seq is not None and event.seq <= self.state.last_seq:
                        continue
                    await self.ingest(event)

    async def _catch_up(self) -> None:
        while True:
            batch = await self.podium.session.events_since(self.state.last_seq, self.run_id, limit=500)
            for event in batch:
                await self.ingest(event)
            if len(batch) < 500:
                return

    @work(group="replay", exclusive=True, exit_on_error=False)
    async def _load_replay(self) -> None:
        seq = 0
        while True:
            batch = await self.podium.session.events_since(seq, self.run_id, limit=1000)
            self.events.extend(batch)
            if len(batch) < 1000:
                break
            seq = batch[-1].seq or seq
        for event in self.events:
            self.note_workspace(event)
            self.note_image(event)
        transcripts = self.query_one(Transcripts)
        transcripts.live = False
        await self._show_until(len(self.events))
        heap.settle()
        self.loaded.set()

    async def _show_until(self, target: int) -> None:
        target = max(0, min(len(self.events), target))
        if target < self.cursor:
            # Back in time: fold the log again from the start (pure and cheap) so the graph,
            # board and status show that moment at once; the transcripts are rebuilt once
            # the stepping pauses, not per key.
            self.state = RunState.fold(self.run_id, self.events[:target])
            self._transcripts_stale = True
            self._schedule_transcripts()
        else:
            for event in self.events[self.cursor:target]:
                if self._transcripts_stale:
                    self.state.apply(event)
                else:
                    await self.ingest(event)
        self.cursor = target
        if not self.state.objective:
            await self._seed_headline()
        self._dirty = True
        self._render_if_dirty()

    def _schedule_transcripts(self) -> None:
        if self._rebuild_timer is not None:
            self._rebuild_timer.stop()
        self._rebuild_timer = self.set_timer(REBUILD_SECONDS, self._rebuild_transcripts)

    async def _rebuild_transcripts(self) -> None:
        async with self._step_lock:
            self._rebuild_timer = None
            transcripts = self.query_one(Transcripts)
            await transcripts.clear()
            if self.state.agents:
                await transcripts.add_agents(self.state.agents)
            for event in self.events[: self.cursor]:
                await transcripts.handle(event)
            self._transcripts_stale = False

    @property
    def transcripts_current(self) -> bool:
        """Replay: the transcripts show the moment the timeline is at."""
        return not self._transcripts_stale

    async def action_step(self, delta: int) -> None:
        async with self._step_lock:
            await self._show_until(self.cursor + delta)

    async def action_step_to(self, index: int) -> None:
        async with self._step_lock:
            await self._show_until(len(self.events) if index < 0 else index)

    # ------------------------------------------------------------ rendering

    def _tick(self) -> None:
        self.query_one(RunTitle).show(self.state, self.podium.project.name, self.podium.readonly,
                                      self.podium.clock())
        if self.state.running_count:
            self._dirty = True
        self._refresh_keys()  # whether this window drives the run changes without an event

    @property
    def rendered(self) -> bool:
        """True once every event folded in so far has been drawn."""
        return not self._dirty

    def _render_if_dirty(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        state = self.state
        self.query_one(RunTitle).show(state, self.podium.project.name, self.podium.readonly,
                                      self.podium.clock())
        self.query_one(WaitBanner).show(state.waits_on_person if not self.replay else [], self._note)
        self.query_one(PlanPane).show(state, self.podium.clock())
        self.query_one(Board).sync(state.cards())
        self.query_one(StatusBar).show(state, self.podium.default_model)
        self._refresh_keys()
        if self.replay:
            event = self.events[self.cursor - 1] if self.cursor else None
            self.query_one(Timeline).show(self.cursor, len(self.events), event)

    def _refresh_keys(self) -> None:
        applicable = tuple(self.check_action(a, ()) for a in FOOTER_FOLLOWS)
        if applicable != self._applicable:
            # The footer follows what applies now; recomposing it on every frame is costly.
            self._applicable = applicable
            self.refresh_bindings()

    def on_plan_graph_selected(self, message: PlanGraph.Selected) -> None:
        self.query_one(PlanPane).show_detail(self.state, self.podium.clock())
        self._refresh_keys()

    def on_board_selected(self, message: Board.Selected) -> None:
        self._refresh_keys()  # the task keys follow the board's card while it has focus

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self._refresh_keys()  # ... and the plan pane's selection when focus moves back

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        self._refresh_keys()

    def set_note(self, note: str | None) -> None:
        self._note = note
        self._dirty = True

    # ------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer a control only while it can act: never in a replay (an archive is read-only, a
        replayed run has finished, whatever moment the timeline shows), and on a live run only
        in the state it acts on. False leaves it out of the footer (`?` still lists it)."""
        if self.podium.leaving:
            return False
        if action == "workspace_diff":
            return self.has_workspace
        if action == "open_image":
            return bool(self.images)
        if action == "fork_run":  # from an approved plan's subtasks, live or replayed
            return bool(self.state.subtasks) and not self.state.awaiting_approval
        if action not in CHANGING_ACTIONS:
            return True
        if self.replay or self.podium.readonly:
            return False
        if action.startswith("task_"):  # the living plan (run_tasks.py)
            return self._task_applies(action)
        s = self.state
        live = self.podium.is_live(self.run_id)
        running = s.status in (ExecutionStatus.RUNNING, ExecutionStatus.SYNTHESISING)
        return {
            "approve": s.awaiting_approval,
            "reject": s.awaiting_approval,
            "guide": not s.status.finished and s.status is not ExecutionStatus.AWAITING_APPROVAL,
            # Pauses a running run; resumes a paused one, a halted one, or one no process drives.
            "pause": running or s.status is ExecutionStatus.PAUSED
            or (s.status is ExecutionStatus.HALTED and not live),
            # Halting stops this window's engine; a run driven elsewhere is halted from the CLI.
            "halt": live and not s.status.finished and s.status is not ExecutionStatus.HALTED,
            "answer": bool(s.help_requests),
            "review": s.awaiting_review,
            "tool_approval": bool(s.tool_approvals),
        }[action]

    def _may_change(self, what: str) -> bool:
        if self.podium.readonly:
            self.notify(f"Read-only archive: cannot {what}. Open the project file to act on runs.",
                        severity="warning", title="read-only")
            return False
        if self.replay:
            self.notify(f"A replay of a finished run: cannot {what}.", severity="warning")
            return False
        return True

    def on_key(self, event: events.Key) -> None:
        """A replay binds no control, and a task key on a subtask it cannot act on is left out, so
        either key would do nothing at all: say why. (Key events reach the screen before the app's
        binding lookup.)"""
        for binding in self.podium.bindings_of(self).key_to_bindings.get(event.key, []):
            if binding.action not in CHANGING_ACTIONS:
                continue
            if self.replay:
                self._may_change(CHANGE_WORDS[binding.action])
                event.stop()
                return
            why = None if self.podium.readonly else self.task_refusal(binding.action)
            if why:
                self.notify(why, severity="warning")
                event.stop()
                return

    def action_approve(self) -> None:
        if not self._may_change(CHANGE_WORDS["approve"]):
            return
        if not self.state.awaiting_approval:
            self.notify("No plan is waiting for approval.", severity="warning")
            return
        self.podium.approve(self.run_id)

    def action_reject(self) -> None:
        if not self._may_change(CHANGE_WORDS["reject"]):
            return
        if not self.state.awaiting_approval:
            self.notify("No plan is waiting for approval.", severity="warning")
            return
        plan = self.state.plan
        context = f"Plan v{plan.version}: {len(plan.plan.subtasks)} subtasks." if plan else ""

        def done(feedback: str | None) -> None:
            if feedback:
                self.podium.reject(self.run_id, feedback)

        self.app.push_screen(
            TextPrompt("Reject the plan: what should change?", context=context,
                       placeholder="e.g. Add a fact-check step before writing", send_label="Reject & replan"),
            done,
        )

    def action_guide(self) -> None:
        if not self._may_change(CHANGE_WORDS["guide"]):
            return
        if self.state.status.finished:
            self.notify("The run has finished; there is no one to guide.", severity="warning")
            return
        running = [s.id for s in self.state.subtasks.values() if s.status is SubtaskStatus.RUNNING]
        context = "Reaches every running agent at its next turn."
        if running:
            context += f" Start with @{running[0]} to reach one subtask only (running: {', '.join(running)})."

        def done(text: str | None) -> None:
            if not text:
                return
            subtask = None
            if text.startswith("@") and " " in text:
                head, rest = text[1:].split(" ", 1)
                if head in self.state.subtasks:
                    subtask, text = head, rest.strip()
            if is_stop_request(text):
                self._confirm_halt(text)
                return
            self.podium.guide(self.run_id, text, subtask)

        self.app.push_screen(TextPrompt("Guidance for the team", context=context,
                                        placeholder="e.g. Use metric units"), done)

    def _confirm_halt(self, text: str) -> None:
        """A stop request typed as guidance: ask, never halt on a word alone; not sent either way."""
        def done(yes: bool | None) -> None:
            if yes:
                self.podium.halt(self.run_id)
            else:
                self.notify("Not halted, and not sent as guidance.", severity="information")

        self.app.push_screen(Confirm(
            "Halt the run?", f"“{text}” reads as a request to stop. Halting stops the running agents "
            "at their next turn; everything done so far is kept and p (or `podium resume`) continues. "
            "No: nothing is halted or sent.", "Halt"), done)

    def action_pause(self) -> None:
        if not self._may_change(CHANGE_WORDS["pause"]):
            return
        status = self.state.status
        live = self.podium.is_live(self.run_id)
        if status in (ExecutionStatus.RUNNING, ExecutionStatus.SYNTHESISING) and not live:
            # Crashed, or driven by another process: resuming here could run it twice.
            def done(yes: bool | None) -> None:
                if yes:
                    self.podium.resume(self.run_id)

            self.app.push_screen(Confirm(
                "Resume this run here?",
                "It is marked running but no engine in this window is working on it. If its process "
                "died, resuming continues it here (done subtasks are kept). If another terminal is "
                "still running it, say no.", "Resume here"), done)
        elif status is ExecutionStatus.PAUSED or (status is ExecutionStatus.HALTED and not live):
            self.podium.resume(self.run_id)
        elif status in (ExecutionStatus.RUNNING, ExecutionStatus.SYNTHESISING):
            self.podium.pause(self.run_id)
        else:
            self.notify(f"The run is {status.value.replace('_', ' ')}: nothing to pause or resume.",
                        severity="warning")

    def action_halt(self) -> None:
        if not self._may_change(CHANGE_WORDS["halt"]):
            return
        if self.state.status.finished or self.state.status is ExecutionStatus.HALTED:
            self.notify("The run is not running.", severity="warning")
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.podium.halt(self.run_id)

        self.app.push_screen(Confirm("Halt this run?",
                                     "Running agents stop at their next turn. Everything done so far is "
                                     "kept; p (or `podium resume`) continues from there.", "Halt"), done)

    def action_answer(self) -> None:
        if not self._may_change(CHANGE_WORDS["answer"]):
            return
        requests = self.state.help_requests
        if not requests:
            self.notify("No agent is asking for help.", severity="warning")
            return
        selected = self._selected()
        sid = selected if selected in requests else next(iter(requests))
        self._answer(sid)

    def _answer(self, sid: str) -> None:
        task = self.state.subtasks.get(sid)
        who = f"{sid} ({task.agent})" if task else sid

        def done(text: str | None) -> None:
            if text:
                self.podium.answer(self.run_id, sid, text)

        self.app.push_screen(TextPrompt(f"Answer {who}", context=self.state.help_requests.get(sid, "")), done)

    def action_tool_approval(self) -> None:
        if not self._may_change(CHANGE_WORDS["tool_approval"]):
            return
        if not self.state.tool_approvals:
            self.notify("No tool call is waiting for approval.", severity="warning")
            return
        approval_id, request = next(iter(self.state.tool_approvals.items()))
        detail = (f"{request.agent} ({request.subtask_id or '-'}) wants to run "
                  f"{request.tool} with {request.arguments}")

        def done(allow: bool | None) -> None:
            self.podium.decide_tool(approval_id, bool(allow))

        self.app.push_screen(Confirm("Allow this tool call?", detail, "Allow"), done)

    def action_review(self) -> None:
        if not self._may_change(CHANGE_WORDS["review"]):
            return
        if not self.state.awaiting_review:
            self.notify("No result is waiting for review.", severity="warning")
            return

        def done(choice: ReviewChoice | None) -> None:
            if choice is None:
                return
            if choice.decision == "accept":
                self.podium.accept_result(self.run_id)
            else:
                self.podium.rework(self.run_id, choice.feedback, list(choice.subtasks))

        self.app.push_screen(Review(self.state.result or "", self.state.verdict, list(self.state.subtasks)),
                             done)

    def action_home(self) -> None:
        self.podium.go_home()
        home = self.podium.screen
        focus_runs = getattr(home, "focus_runs", None)
        if focus_runs is not None:
            focus_runs()

    def _control_commands(self) -> list[PaletteCommand]:
        """The controls that apply now (a replay has none, whatever moment it shows)."""
        s = self.state
        commands: list[PaletteCommand] = []
        if s.awaiting_approval:
            commands += [("Approve plan", "Start executing the proposed plan", self.action_approve),
                         ("Reject plan with feedback", "Ask the leader for a new plan", self.action_reject)]
        if s.status is ExecutionStatus.PAUSED:
            commands.append(("Resume run", "Continue the paused run", self.action_pause))
        elif s.status in (ExecutionStatus.RUNNING, ExecutionStatus.SYNTHESISING):
            commands += [("Pause run", "Agents stop at their next turn", self.action_pause),
                         ("Guide the team", "Guidance reaches agents at their next turn", self.action_guide),
                         ("Halt run", "Stop, keeping state (resumable)", self.action_halt)]
        elif s.status is ExecutionStatus.HALTED:
            commands.append(("Resume halted run", "Continue from where it stopped", self.action_pause))
        for sid in s.help_requests:
            commands.append((f"Answer {sid}'s help request", s.help_requests[sid][:80],
                             partial(self._answer, sid)))
        if s.awaiting_review:
            commands.append(("Review result", "Accept or rework", self.action_review))
        return commands

    def palette_commands(self) -> list[PaletteCommand]:
        s = self.state
        commands: list[PaletteCommand] = [] if self.replay else self._control_commands()
        for sid, task in s.subtasks.items():
            commands.append((f"Select subtask {sid} ({task.agent})", task.description[:80],
                             partial(self._select, sid)))
        for pane in PANES:
            commands.append((f"Show {pane}", f"Focus the {pane} pane",
                             partial(self.action_pane, pane)))
        if self.replay:
            commands += [("Replay: jump to start", "First event", lambda: self.run_action("step_to(0)")),
                         ("Replay: jump to end", "Last event", lambda: self.run_action("step_to(-1)"))]
        if self.images:
            latest = self.images[-1]
            commands.append(("Open the image", f"{latest.path} (the selected subtask's latest, else the "
                             "run's) in the system's viewer", self.action_open_image))
        if self.has_workspace:
            commands.append(("Show the diff", "What the run changed in your folder",
                             self.action_workspace_diff))
        commands.append(("Back to runs", "The home screen", self.action_home))
        return commands

    def _select(self, sid: str) -> None:
        graph = self.query_one(PlanGraph)
        graph.selected = sid
        self.action_pane("plan")


class ReplayScreen(RunScreen):
    """A run as it was: the timeline under the panes; left/right step through its events."""

    BINDINGS = REPLAY_BINDINGS

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id, replay=True)
