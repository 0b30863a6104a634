"""The living plan's form: add a subtask to a running graph, or edit/reassign/retry one.

One modal with the fields a change needs (what, which agent, after which
subtasks, a note); it returns them as a dict and the run screen builds the
`PlanChange` (validated, with one clear line on a problem, by the use case).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from podium.tui.screens.modals import _MODAL_CSS

FIELDS = {"description": "What it does", "agent": "Agent", "after": "After (subtask ids, space-separated)",
          "note": "Note for the agent", "criteria": "Acceptance criteria (separated by ;)"}
# Fields that hold several values: "after" by spaces, "criteria" by semicolons.
SPLIT = {"after": None, "criteria": ";"}


class PlanChangeForm(ModalScreen[dict[str, Any] | None]):
    """Ctrl+S (or the button) sends, Esc cancels; empty fields are left out."""

    DEFAULT_CSS = _MODAL_CSS.format(name="PlanChangeForm") + """
    PlanChangeForm Input { margin-bottom: 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "cancel"), Binding("ctrl+s", "send", "send", priority=True)]

    def __init__(self, title: str, fields: list[str], *, context: str = "",
                 values: dict[str, str] | None = None, send_label: str = "Apply") -> None:
        super().__init__()
        self.title_text = title
        self.fields = fields
        self.context = context
        self.values = values or {}
        self.send_label = send_label

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            if self.context:
                yield Static(Text(self.context), classes="context")
            for name in self.fields:
                yield Input(self.values.get(name, ""), placeholder=FIELDS[name], id=f"field-{name}")
            with Horizontal():
                yield Button("Cancel (Esc)", id="cancel")
                yield Button(f"{self.send_label} (Ctrl+S)", id="send", variant="primary")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def action_send(self) -> None:
        out: dict[str, Any] = {}
        for name in self.fields:
            value = self.query_one(f"#field-{name}", Input).value.strip()
            if value:
                out[name] = [v.strip() for v in value.split(SPLIT[name]) if v.strip()] \
                    if name in SPLIT else value
        self.dismiss(out)

    def on_input_submitted(self) -> None:
        self.action_send()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "send":
            self.action_send()
        else:
            self.dismiss(None)
