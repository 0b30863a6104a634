"""Forking a run from the run screen or a replay: `F` on the selected subtask.

An editor opens on the subtask's output (a finished one's; an unfinished one has none to keep).
Ctrl+S forks: with the text changed, the fork keeps it as that subtask's output and what depends
on it runs again; unchanged, the subtask itself and what depends on it run again. Everything else
is reused from the run. The fork opens as a new run awaiting approval of the plan (`a`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.widgets import TextArea

from podium.domain import SubtaskStatus
from podium.tui.screens.modals import _MODAL_CSS, SendForm

if TYPE_CHECKING:
    from podium.tui.app import PodiumApp
    from podium.tui.state import RunState


class ForkEditor(SendForm[str]):
    """The selected subtask's output in a text area; Ctrl+S (or the button) forks with the text as
    it stands, Esc cancels. Empty text is not sent."""

    DEFAULT_CSS = _MODAL_CSS.format(name="ForkEditor") + """
    ForkEditor > Vertical { width: 100; height: 90%; }
    ForkEditor TextArea { height: 1fr; min-height: 4; }
    """

    def __init__(self, title: str, current: str, *, context: str = "", editable: bool = True) -> None:
        super().__init__(title, context=context, send_label="Fork")
        self.current = current
        self.editable = editable

    def compose_fields(self) -> ComposeResult:
        yield TextArea(self.current, id="fork-output", soft_wrap=True, tab_behavior="focus",
                       read_only=not self.editable)

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_send(self) -> None:
        text = self.query_one(TextArea).text
        if self.editable and not text.strip():
            self.notify("The output cannot be empty (Esc cancels).", severity="warning")
            return
        self.dismiss(text)


class ForkActions:
    """The run screen's fork key (mixed into RunScreen, live or replay)."""

    run_id: str
    state: RunState

    if TYPE_CHECKING:
        @property
        def podium(self) -> PodiumApp: ...

    def action_fork_run(self) -> None:
        app = self.podium
        if app.readonly:
            app.notify(f"Read-only archive: fork its runs into a project with `podium fork {self.run_id} "
                       f"--archive {app.project} -p PROJECT`.", severity="warning", title="read-only")
            return
        sid = self._selected()  # type: ignore[attr-defined]  # run_tasks.PlanChangeActions
        subtask = self.state.subtasks.get(sid or "")
        if subtask is None:
            app.notify("Select a subtask in the plan pane (or a card on the board) to fork from.",
                       severity="warning")
            return
        done = subtask.status in (SubtaskStatus.DONE, SubtaskStatus.REVIEW)
        current = subtask.output or ""
        if done:
            context = (f"Ctrl+S forks the run. Change the text and the fork keeps it as {sid}'s output; "
                       f"what depends on {sid} runs again with it. Leave it as it is and {sid} runs "
                       "again, with what depends on it. The rest is reused.")
        else:
            context = (f"{sid} is {subtask.status.value.replace('_', ' ')}: Ctrl+S forks the run with {sid} "
                       "and what depends on it running again; the finished rest is reused.")

        def chosen(text: str | None) -> None:
            if text is None:
                return
            edit = done and text != current
            app.fork(self.run_id, rerun_from=[] if edit else [subtask.id],
                     edits={subtask.id: text} if edit else {})

        app.push_screen(ForkEditor(f"Fork from {sid} ({subtask.agent})", current, context=context,
                                   editable=done), chosen)
