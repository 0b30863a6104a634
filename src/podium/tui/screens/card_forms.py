"""The board's dialogs: the card form (add, edit), the column picker (move), a card's detail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option

from podium.app.board import CardFields
from podium.domain import Card, CardColumn, CardPriority, RunSummary, card_ref
from podium.errors import PodiumError
from podium.tui.screens.modals import _MODAL_CSS
from podium.tui.state import RUN_SYMBOL

Save = Callable[[CardFields], Awaitable[str]]


def split_refs(text: str) -> list[str]:
    return [r for r in text.replace(",", " ").split() if r]


def form_fields(title: str, details: str, criteria: str, priority: str, team: str, after: str) -> CardFields:
    """What the form says, as a card's fields (criteria: one per line)."""
    return CardFields(title=title.strip(), details=details.strip(),
                      criteria=[c.strip().lstrip("-• ").strip() for c in criteria.splitlines() if c.strip()],
                      priority=priority, team=team, after=split_refs(after))


def changed_fields(card: Card, fields: CardFields) -> CardFields:
    """Only what the edit changes (the app layer says "nothing to change" for none)."""
    after = [card_ref(d) for d in card.depends_on]
    wanted_after = [card_ref(int(r.lstrip("#cC"))) if r.lstrip("#cC").isdigit() else r
                    for r in (fields.after or [])]
    return CardFields(
        title=fields.title if fields.title != card.title else None,
        details=fields.details if fields.details != card.details else None,
        criteria=fields.criteria if fields.criteria != card.criteria else None,
        priority=fields.priority if fields.priority != card.priority.value else None,
        team=fields.team if (fields.team or None) != card.team else None,
        after=fields.after if wanted_after != after else None)


class CardForm(ModalScreen[str | None]):
    """Add or edit a card: title, details, acceptance criteria (one a line), priority, team and the
    cards it comes after. Ctrl+S saves through `save` (the dialog stays open on an error and says
    it); Esc cancels. Dismissed with what `save` said."""

    DEFAULT_CSS = _MODAL_CSS.format(name="CardForm") + """
    CardForm > Vertical { width: 90; padding: 0 2; }
    CardForm Label.title { margin-bottom: 0; }
    CardForm Label.field { color: $text-muted; margin-top: 0; }
    CardForm #card-details { height: 4; margin-bottom: 0; }
    CardForm #card-criteria { height: 3; margin-bottom: 0; }
    CardForm #card-row { height: auto; align-horizontal: left; }
    CardForm #card-priority { width: 20; }
    CardForm #card-team { width: 24; }
    CardForm #card-after { width: 1fr; }
    CardForm #card-buttons { margin-top: 1; }
    /* A short terminal (80x24): the placeholders name the fields, so the form and its buttons fit. */
    CardForm.-short Label.field { display: none; }
    CardForm.-short #card-details { height: 3; }
    CardForm.-short #card-buttons { margin-top: 0; }
    """
    BINDINGS = [Binding("escape", "cancel", "cancel"), Binding("ctrl+s", "save", "save", priority=True)]

    def __init__(self, heading: str, *, save: Save, teams: Sequence[str], card: Card | None = None) -> None:
        super().__init__()
        self.heading = heading
        self.save = save
        self.teams = list(teams)
        self.card = card

    def compose(self) -> ComposeResult:
        c = self.card
        with Vertical():
            yield Label(self.heading, classes="title")
            yield Label("Title", classes="field")
            yield Input(c.title if c else "", id="card-title", placeholder="What should be done")
            yield Label("Details", classes="field")
            details = TextArea(c.details if c else "", id="card-details", soft_wrap=True,
                               tab_behavior="focus")
            details.placeholder = "Context, links, constraints (optional)"
            yield details
            yield Label("Acceptance criteria, one a line", classes="field")
            criteria = TextArea("\n".join(c.criteria) if c else "", id="card-criteria", soft_wrap=True,
                                tab_behavior="focus")
            criteria.placeholder = "e.g. a table with prices in NOK"
            yield criteria
            with Horizontal(id="card-row"):
                yield Select[str]([(p.value, p.value) for p in CardPriority], id="card-priority",
                                  allow_blank=False,
                                  value=c.priority.value if c else CardPriority.NORMAL.value)
                teams = list(dict.fromkeys([*self.teams, *([c.team] if c and c.team else [])]))
                yield Select[str]([(t, t) for t in teams], id="card-team", prompt="any team",
                                  value=c.team if c and c.team else Select.NULL)
                yield Input(" ".join(card_ref(d) for d in c.depends_on) if c else "", id="card-after",
                            placeholder="after cards, e.g. c1 c2")
            with Horizontal(id="card-buttons"):
                yield Button("Cancel (Esc)", id="cancel")
                yield Button("Save (Ctrl+S)", id="save", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#card-title", Input).focus()
        self.on_resize()

    def on_resize(self) -> None:
        self.set_class(self.app.size.height < 32, "-short")

    def fields(self) -> CardFields:
        team = self.query_one("#card-team", Select).value
        priority = self.query_one("#card-priority", Select).value
        return form_fields(self.query_one("#card-title", Input).value,
                           self.query_one("#card-details", TextArea).text,
                           self.query_one("#card-criteria", TextArea).text,
                           priority if isinstance(priority, str) else CardPriority.NORMAL.value,
                           team if isinstance(team, str) else "",
                           self.query_one("#card-after", Input).value)

    def action_save(self) -> None:
        fields = self.fields()
        if not fields.title:
            self.notify("A card needs a title.", severity="warning")
            self.query_one("#card-title", Input).focus()
            return
        self._save(fields)

    @work(group="card-save", exclusive=True, exit_on_error=False)
    async def _save(self, fields: CardFields) -> None:
        try:
            said = await self.save(fields)
        except PodiumError as exc:  # bad input: say it, keep what was typed
            self.notify(str(exc), severity="error", title="card not saved", timeout=8)
            return
        self.dismiss(said)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()


class ColumnPicker(ModalScreen[CardColumn | None]):
    """Where to move a card: the seven columns (1-7 or the arrows and Enter)."""

    DEFAULT_CSS = _MODAL_CSS.format(name="ColumnPicker") + """
    ColumnPicker > Vertical { width: 44; }
    ColumnPicker OptionList { height: auto; max-height: 12; }
    """
    BINDINGS = [Binding("escape", "cancel", "cancel"),
                *[Binding(str(i + 1), f"pick({i})", column.label, show=False)
                  for i, column in enumerate(CardColumn)]]

    def __init__(self, card: Card) -> None:
        super().__init__()
        self.card = card

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Move {self.card.ref} to…", classes="title")
            options = []
            for i, column in enumerate(CardColumn):
                here = " (here)" if column is self.card.column else ""
                options.append(Option(f"{i + 1}  {column.label}{here}", id=column.value))
            yield OptionList(*options, id="columns")

    def on_mount(self) -> None:
        columns = self.query_one(OptionList)
        columns.highlighted = list(CardColumn).index(self.card.column)
        columns.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.dismiss(CardColumn(event.option.id))

    def action_pick(self, index: int) -> None:
        self.dismiss(list(CardColumn)[index])

    def action_cancel(self) -> None:
        self.dismiss(None)


def detail_text(card: Card) -> Text:
    """Everything a card says: what, why and by whom, where it stands, its result."""
    text = Text()
    text.append(f"{card.column.label} · priority {card.priority.value}", "bold")
    text.append(f" · team {card.team or 'any'}")
    if card.archived:
        text.append(" · archived", "italic")
    if card.details:
        text.append(f"\n\n{card.details}")
    if card.criteria:
        text.append("\n\nAcceptance criteria", "bold")
        for c in card.criteria:
            text.append(f"\n  • {c}")
    text.append("\n\nAfter: ", "bold")
    text.append(", ".join(card_ref(d) for d in card.depends_on) or "nothing (ready when in To do)")
    text.append("\nCreated by: ", "bold")
    who = card.created_by
    if card.source_agent and card.source_agent != who:
        who += f" ({card.source_agent})"
    text.append(who)
    if card.source_execution:
        text.append(f" during run {card.source_execution}")
    text.append(f", {datetime.fromtimestamp(card.created_at):%Y-%m-%d %H:%M}")
    if card.reason:
        text.append("\nWhy: ", "bold")
        text.append(card.reason)
    if card.claimed_by:
        text.append("\nWorked by: ", "bold")
        text.append(card.claimed_by)
    if card.result:
        text.append("\n\nResult", "bold")
        text.append(f"\n{card.result}")
    return text


def run_option(run_id: str, summary: RunSummary | None) -> Option:
    if summary is None:
        return Option(f"{run_id}  (not in this file)", id=run_id)
    status = summary.known_status
    state = f"{RUN_SYMBOL[status]} {status.value.replace('_', ' ')}" if status else summary.status
    return Option(Text.assemble((run_id, "bold"), f"  {state}  ",
                                (f"{summary.usage.tokens:,} tokens", "dim")), id=run_id)


class CardDetail(ModalScreen[str | None]):
    """A card's detail and its runs; Enter on a run opens it (dismissed with its id)."""

    DEFAULT_CSS = _MODAL_CSS.format(name="CardDetail") + """
    CardDetail > Vertical { width: 100; height: auto; max-height: 90%; padding: 0 2; }
    CardDetail Label.title { margin-bottom: 0; }
    CardDetail #card-body { height: auto; max-height: 24; border: round $foreground 30%; }
    CardDetail #card-body Static { padding: 0 1; }
    CardDetail Label.field { color: $text-muted; }
    CardDetail #card-runs { height: auto; max-height: 8; }
    """
    BINDINGS = [Binding("escape", "close", "close")]

    def __init__(self, card: Card, runs: dict[str, RunSummary | None]) -> None:
        super().__init__()
        self.card = card
        self.runs = runs

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.card.ref}  {self.card.title}", classes="title")
            with VerticalScroll(id="card-body"):
                yield Static(detail_text(self.card), id="card-text")
            if self.card.runs:
                yield Label("Runs (Enter opens one)", classes="field")
                yield OptionList(*[run_option(r, self.runs.get(r)) for r in self.card.runs], id="card-runs")
            else:
                yield Label("No runs yet: the heartbeat (w on the board, or `podium work`) takes it from "
                            "To do.", classes="field")
            with Horizontal():
                yield Button("Close (Esc)", id="close")

    def on_mount(self) -> None:
        if self.card.runs:
            runs = self.query_one("#card-runs", OptionList)
            runs.highlighted = len(self.card.runs) - 1  # the latest run
            runs.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_close(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)
