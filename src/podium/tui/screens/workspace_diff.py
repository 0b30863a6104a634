"""The diff of a run on the user's own folder (`--workspace`): a scrollable, coloured view.

The run screen's `d` key opens it (only on a run that has such a workspace). Opening it commits what
the agents changed so far on the run's branch (or in the copy's repository) and shows the diff
against where the run started; in an archive, the diff last recorded. Applying stays a deliberate
command (`podium workspace RUN --apply`), named in the view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.syntax import Syntax
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from podium import events as ev
from podium.domain import Event
from podium.errors import PodiumError

if TYPE_CHECKING:
    from textual.app import App

    from podium.app.run_workspace import WorkspaceReview
    from podium.tui.app import PodiumApp

# Longer diffs are cut here: the whole one is a command away.
SHOWN_LINES = 4000


class WorkspaceDiffScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    WorkspaceDiffScreen { align: center middle; background: $background 60%; }
    WorkspaceDiffScreen > Vertical { width: 95%; height: 90%; border: thick $primary; background: $surface;
        padding: 0 1; }
    WorkspaceDiffScreen Label.title { text-style: bold; width: 100%; }
    WorkspaceDiffScreen Static.context { color: $text-muted; width: 100%; }
    WorkspaceDiffScreen #diff-scroll { height: 1fr; border: round $foreground 30%; }
    WorkspaceDiffScreen #diff-scroll:focus { border: round $primary; }
    """

    BINDINGS = [
        Binding("escape", "close", "close"),
        Binding("q", "close", "close", show=False),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__(id="workspace-diff")
        self.run_id = run_id
        self.review: WorkspaceReview | None = None

    @property
    def podium(self) -> PodiumApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Changes of run {self.run_id}", classes="title")
            yield Static("committing the agents' changes and diffing…", id="diff-summary", classes="context")
            with VerticalScroll(id="diff-scroll"):
                yield Static(id="diff-body")

    def on_mount(self) -> None:
        self.query_one("#diff-scroll").focus()
        self._load()

    @work(exclusive=True, exit_on_error=False)
    async def _load(self) -> None:
        try:
            review = await self.podium.session.run_workspaces.review(self.run_id)
        except PodiumError as exc:
            self.query_one("#diff-summary", Static).update(Text(str(exc), style="bold red"))
            return
        self.review = review
        ws = review.workspace
        where = f"{ws.source} · branch {ws.branch}" if ws.kind == "git" else f"a copy of {ws.source}"
        note = "" if review.live else " (as last recorded)"
        files = ", ".join(f.split(" ", 1)[1] for f in review.files[:8])
        more = f" and {len(review.files) - 8} more" if len(review.files) > 8 else ""
        applied = f" · applied to {ws.applied_to}" if ws.applied_to else ""
        summary = f"{where}: {review.summary}{note}{applied}"
        if files:
            summary += f"\n{files}{more}"
        summary += f"\napply: podium workspace {self.run_id} --apply   ·   Esc closes"
        self.query_one("#diff-summary", Static).update(Text(summary))
        lines = review.diff.splitlines()
        shown = "\n".join(lines[:SHOWN_LINES])
        if len(lines) > SHOWN_LINES:
            shown += (f"\n… {len(lines) - SHOWN_LINES} more lines: podium workspace {self.run_id} --diff "
                      "prints them all")
        body = self.query_one("#diff-body", Static)
        if not shown:
            body.update(Text("No changes yet.", style="italic"))
            return
        dark = self.app.current_theme.dark if self.app.current_theme is not None else True
        body.update(Syntax(shown, "diff", theme="monokai" if dark else "default", word_wrap=False,
                           background_color="default"))

    def action_close(self) -> None:
        self.dismiss(None)


class WorkspaceDiffActions:
    """The run screen's part: `d` opens the diff, offered only on a run that works on the user's
    folder (it has a `workspace.changed` event), in a live run and a replay alike."""

    run_id: str
    has_workspace: bool = False

    def note_workspace(self, event: Event) -> None:
        if event.type == ev.WORKSPACE_CHANGED and not self.has_workspace:
            self.has_workspace = True
            self.refresh_bindings()  # type: ignore[attr-defined]  # the Screen it is mixed into

    def action_workspace_diff(self) -> None:
        app: App[object] = self.app  # type: ignore[attr-defined]
        if not self.has_workspace:
            app.notify("This run works in a folder of its own, not on yours (--workspace): no diff.",
                       severity="warning")
            return
        app.push_screen(WorkspaceDiffScreen(self.run_id))
