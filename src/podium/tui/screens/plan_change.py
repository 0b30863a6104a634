"""The living plan's forms: add a subtask to a running graph, edit/reassign/retry one, or
replace a finished one's output.

One modal with the fields a change needs (what, which agent, after which
subtasks, a note); it returns them as a dict and the run screen builds the
`PlanChange` (validated, with one clear line on a problem, by the use case).
The output editor is a text area over the current output.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.widgets import Input, TextArea

from podium.tui.screens.modals import _MODAL_CSS, SendForm

FIELDS = {"description": "What it does", "agent": "Agent", "after": "After (subtask ids, space-separated)",
          "note": "Note for the agent", "criteria": "Acceptance criteria (separated by ;)"}
# Fields that hold several values: "after" by spaces, "criteria" by semicolons.
SPLIT = {"after": None, "criteria": ";"}


class PlanChangeForm(SendForm[dict[str, Any]]):
    """Ctrl+S (or the button) sends, Esc cancels; empty fields are left out."""

    DEFAULT_CSS = _MODAL_CSS.format(name="PlanChangeForm") + """
    PlanChangeForm Input { margin-bottom: 1; }
    """

    def __init__(self, title: str, fields: list[str], *, context: str = "",
                 values: dict[str, str] | None = None, send_label: str = "Apply") -> None:
        super().__init__(title, context=context, send_label=send_label)
        self.fields = fields
        self.values = values or {}

    def compose_fields(self) -> ComposeResult:
        for name in self.fields:
            yield Input(self.values.get(name, ""), placeholder=FIELDS[name], id=f"field-{name}")

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


class OutputEditor(SendForm[str]):
    """A finished subtask's output in a text area: Ctrl+S (or the button) saves the edited text,
    Esc cancels. Empty or unchanged text is not sent (a notice says so; the editor stays)."""

    DEFAULT_CSS = _MODAL_CSS.format(name="OutputEditor") + """
    OutputEditor > Vertical { width: 100; height: 90%; }
    OutputEditor TextArea { height: 1fr; min-height: 4; }
    """

    def __init__(self, title: str, current: str, *, context: str = "") -> None:
        super().__init__(title, context=context, send_label="Save")
        self.current = current

    def compose_fields(self) -> ComposeResult:
        yield TextArea(self.current, id="output-text", soft_wrap=True, tab_behavior="focus")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_send(self) -> None:
        text = self.query_one(TextArea).text
        if not text.strip():
            self.notify("The output cannot be empty (Esc cancels).", severity="warning")
            return
        if text.strip() == self.current.strip():
            self.notify("The output is unchanged: nothing to save (Esc cancels).", severity="warning")
            return
        self.dismiss(text)
