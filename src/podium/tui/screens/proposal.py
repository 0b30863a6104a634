"""Deciding a proposal on the run screen: an agent's new subtask, or the leader's replan.

One modal for the oldest pending proposal (the banner says how many wait): what it
asks for, who asked and why; Ctrl+A accepts (its changes join the running plan,
by their author, accepted by you), Ctrl+D declines with the optional reason typed
in the field, Esc leaves it pending.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from podium.events import ProposalMade
from podium.tui.screens.modals import _MODAL_CSS

Decision = tuple[bool, str]  # (accept, reason)


class ProposalDecision(ModalScreen[Decision | None]):
    DEFAULT_CSS = _MODAL_CSS.format(name="ProposalDecision") + """
    ProposalDecision Input { margin-bottom: 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "leave pending"),
                Binding("ctrl+a", "accept", "accept", priority=True),
                Binding("ctrl+d", "decline", "decline", priority=True)]

    def __init__(self, proposal: ProposalMade, waiting: int = 1) -> None:
        super().__init__()
        self.proposal = proposal
        self.waiting = waiting

    def compose(self) -> ComposeResult:
        p = self.proposal
        what = "a replan of the unfinished part" if p.kind == "replan" else "a new subtask"
        origin = f" (working on {p.subtask_id})" if p.subtask_id else ""
        more = f"  ·  {self.waiting - 1} more wait after it" if self.waiting > 1 else ""
        with Vertical():
            yield Label(f"Proposal #{p.number}: {p.by}{origin} proposes {what}{more}", classes="title")
            yield Static(Text(p.summary), id="proposal-summary")
            if p.reason:
                yield Static(Text(f"Why: {p.reason}"), classes="context")
            yield Input(placeholder="Reason (optional, told to the agent when you decline)", id="reason")
            with Horizontal():
                yield Button("Leave (Esc)", id="cancel")
                yield Button("Decline (Ctrl+D)", id="decline", variant="error")
                yield Button("Accept (Ctrl+A)", id="accept", variant="primary")

    def _reason(self) -> str:
        return self.query_one("#reason", Input).value.strip()

    def action_accept(self) -> None:
        self.dismiss((True, self._reason()))

    def action_decline(self) -> None:
        self.dismiss((False, self._reason()))

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        {"accept": self.action_accept, "decline": self.action_decline}.get(
            event.button.id or "", self.action_cancel)()
