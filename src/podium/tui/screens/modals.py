"""Modal dialogs: a text box (guidance, feedback, answers), a confirmation, a review, the keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Markdown, Static, TextArea

_MODAL_CSS = """
{name} {{ align: center middle; background: $background 60%; }}
{name} > Vertical {{ width: 70; max-width: 95%; height: auto; max-height: 90%; border: thick $primary;
    background: $surface; padding: 1 2; }}
{name} Label.title {{ text-style: bold; width: 100%; margin-bottom: 1; }}
{name} Static.context {{ color: $text-muted; margin-bottom: 1; max-height: 8; }}
{name} TextArea {{ height: 6; margin-bottom: 1; }}
{name} Horizontal {{ height: auto; align-horizontal: right; }}
{name} Button {{ margin-left: 2; }}
"""


ResultT = TypeVar("ResultT")


class SendForm(ModalScreen[ResultT | None]):
    """A titled form: optional context, the subclass's fields, then Cancel and Send buttons.

    Ctrl+S (or the button) sends, Esc (or the button) cancels with None; a subclass composes its
    fields and says what sending returns.
    """

    BINDINGS = [
        Binding("escape", "cancel", "cancel"),
        Binding("ctrl+s", "send", "send", priority=True),
    ]

    def __init__(self, title: str, *, context: str = "", send_label: str = "Send") -> None:
        super().__init__()
        self.title_text = title
        self.context = context
        self.send_label = send_label

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            if self.context:
                yield Static(Text(self.context), classes="context")
            yield from self.compose_fields()
            with Horizontal():
                yield Button("Cancel (Esc)", id="cancel")
                yield Button(f"{self.send_label} (Ctrl+S)", id="send", variant="primary")

    def compose_fields(self) -> ComposeResult:
        raise NotImplementedError

    def action_send(self) -> None:
        raise NotImplementedError

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "send":
            self.action_send()
        else:
            self.action_cancel()


class TextPrompt(SendForm[str]):
    """Ask for a line or paragraph of text; Ctrl+S or the button sends, Esc cancels."""

    DEFAULT_CSS = _MODAL_CSS.format(name="TextPrompt")

    def __init__(self, title: str, *, context: str = "", placeholder: str = "", send_label: str = "Send",
                 value: str = "") -> None:
        super().__init__(title, context=context, send_label=send_label)
        self.placeholder = placeholder
        self.value = value

    def compose_fields(self) -> ComposeResult:
        area = TextArea(self.value, id="prompt-text", soft_wrap=True, tab_behavior="focus")
        area.placeholder = self.placeholder
        yield area

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_send(self) -> None:
        text = self.query_one(TextArea).text.strip()
        if not text:
            self.notify("Type something first (Esc cancels).", severity="warning")
            return
        self.dismiss(text)


class Confirm(ModalScreen[bool]):
    DEFAULT_CSS = _MODAL_CSS.format(name="Confirm")
    BINDINGS = [
        Binding("escape,n", "answer(False)", "no"),
        Binding("y", "answer(True)", "yes"),
    ]

    def __init__(self, title: str, detail: str, yes: str = "Yes") -> None:
        super().__init__()
        self.title_text = title
        self.detail = detail
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            yield Static(Text(self.detail), classes="context")
            with Horizontal():
                yield Button("No (n)", id="no")
                yield Button(f"{self.yes} (y)", id="yes", variant="error")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class ReviewChoice(NamedTuple):
    decision: str  # "accept" | "rework"
    feedback: str = ""
    subtasks: tuple[str, ...] = ()


class Review(ModalScreen[ReviewChoice | None]):
    """The run's result with the leader's verdict: accept it, or send it back with feedback,
    naming the subtasks to redo (what depends on them runs again too; none: only the synthesis)."""

    DEFAULT_CSS = _MODAL_CSS.format(name="Review") + """
    Review > Vertical { width: 100; height: 90%; padding: 0 2; }
    Review Label.title { margin-bottom: 0; }
    /* The verdict and the result scroll together and take what the controls leave, so the
       feedback box and the buttons stay on screen even at 80x24. */
    Review #review-body { height: 1fr; border: round $foreground 30%; }
    Review #review-body Static.context { max-height: 100%; padding: 0 1; }
    Review TextArea { height: 4; margin-bottom: 0; }
    """
    BINDINGS = [
        Binding("escape", "close", "close"),
        Binding("ctrl+a", "accept", "accept", priority=True),
        Binding("ctrl+r", "rework", "rework", priority=True),
    ]

    def __init__(self, result: str, verdict: dict[str, Any] | None = None,
                 subtasks: Sequence[str] = ()) -> None:
        super().__init__()
        self.result = result
        self.verdict = verdict or {}
        self.subtasks = list(subtasks)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Review the result", classes="title")
            with VerticalScroll(id="review-body"):
                yield Static(verdict_text(self.verdict), classes="context", id="review-verdict")
                yield Markdown(self.result or "_(no result text)_")
            area = TextArea("", id="rework-text", soft_wrap=True, tab_behavior="focus")
            area.placeholder = "Feedback for a rework (not needed to accept)"
            yield area
            flagged = [v["subtask_id"] for v in self.verdict.get("verdicts", []) if not v.get("ok")]
            example = (flagged or self.subtasks or ["t1"])[0]
            hint = f"; the reviewer flagged {' '.join(flagged)}" if flagged else ""
            yield Input(id="rework-subtasks",
                        placeholder=f"Subtasks to redo, e.g. {example} (empty: only the synthesis){hint}")
            with Horizontal():
                yield Button("Close (Esc)", id="close")
                yield Button("Rework (Ctrl+R)", id="rework", variant="warning")
                yield Button("Accept (Ctrl+A)", id="accept", variant="success")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_accept(self) -> None:
        self.dismiss(ReviewChoice("accept"))

    def action_rework(self) -> None:
        text = self.query_one(TextArea).text.strip()
        if not text:
            self.notify("Say what to change first.", severity="warning")
            self.query_one(TextArea).focus()
            return
        named = list(dict.fromkeys(self.query_one(Input).value.replace(",", " ").split()))
        unknown = [i for i in named if self.subtasks and i not in self.subtasks]
        if unknown:
            self.notify(f"No subtask {unknown[0]!r}; the subtasks are {', '.join(self.subtasks)}.",
                        severity="warning")
            self.query_one(Input).focus()
            return
        self.dismiss(ReviewChoice("rework", text, tuple(named)))

    def action_close(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_rework()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"accept": self.action_accept, "rework": self.action_rework}
        actions.get(event.button.id or "", self.action_close)()


def verdict_text(verdict: dict[str, Any]) -> Text:
    """The leader's review: the overall line, then each subtask's ok or not with its reason."""
    text = Text()
    if not verdict:
        text.append("No review by the leader was recorded.", "italic")
        return text
    ok = verdict.get("ok")
    style = "bold green" if ok else "bold yellow" if ok is False else "bold"
    text.append(f"Leader's review: {verdict.get('overall', '')}", style)
    for v in verdict.get("verdicts", []):
        mark, line_style = ("✔", "") if v.get("ok") else ("✘", "yellow")
        reason = f" — {v['reasons']}" if v.get("reasons") else ""
        text.append(f"\n{mark} {v.get('subtask_id')}{reason}", line_style)
    if verdict.get("reasons"):
        text.append(f"\nResult: {verdict['reasons']}", "italic")
    claims = verdict.get("claims") or []
    if claims:
        text.append("\nClaims checked against the recorded sources:", "bold")
        marks = {"supported": ("✔", ""), "unsupported": ("✘", "yellow"), "not_found": ("?", "bold red")}
        for c in claims:
            mark, style = marks.get(c.get("verdict", ""), ("-", ""))
            text.append(f"\n{mark} [{c.get('source')}] {str(c.get('verdict', '')).replace('_', ' ')}: "
                        f"{str(c.get('claim', ''))[:100]}", style)
    for where, ids in (verdict.get("unknown_citations") or {}).items():
        text.append(f"\n⚠ {where} cites {', '.join(f'[{i}]' for i in ids)}: never recorded in this run",
                    "bold red")
    return text


class HelpScreen(ModalScreen[None]):
    """Every key on the screen below, as currently mapped (a keymap remap shows here)."""

    DEFAULT_CSS = _MODAL_CSS.format(name="HelpScreen") + "HelpScreen > Vertical { width: 90; }"
    BINDINGS = [Binding("escape,question_mark,q,f1", "close", "close")]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        text = Text()
        for key, description, tooltip in self.rows:
            text.append(f"{key:>10}  ", "bold")
            text.append(f"{description:<14}", "")
            text.append(f"{tooltip}\n", "dim")
        text.append("\nCtrl+P opens the command palette: every action, filtered by what applies now.",
                    "italic")
        with Vertical():
            yield Label("Keys", classes="title")
            with VerticalScroll():
                yield Static(text)

    def action_close(self) -> None:
        self.dismiss(None)


class ErrorScreen(ModalScreen[None]):
    """A project or archive that cannot be opened: the reason, not a traceback."""

    DEFAULT_CSS = _MODAL_CSS.format(name="ErrorScreen") + "ErrorScreen > Vertical { border: thick $error; }"
    BINDINGS = [Binding("q,escape,enter", "app.exit_with_error", "quit")]

    def __init__(self, title: str, reason: str) -> None:
        super().__init__()
        self.title_text = title
        self.reason = reason

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            yield Static(Text(self.reason))
            yield Static(Text("\nPress q to quit.", style="dim"))


class TooSmall(ModalScreen[None]):
    DEFAULT_CSS = """
    TooSmall { align: center middle; background: $background; }
    TooSmall Static { width: auto; height: auto; text-align: center; }
    """

    def __init__(self, minimum: tuple[int, int]) -> None:
        super().__init__()
        self.minimum = minimum

    def compose(self) -> ComposeResult:
        yield Static(id="too-small")

    def on_mount(self) -> None:
        self.show(self.app.size.width, self.app.size.height)

    def show(self, width: int, height: int) -> None:
        w, h = self.minimum
        self.query_one(Static).update(
            f"Podium needs a terminal of at least {w}x{h}.\nThis one is {width}x{height}: make it larger."
        )
