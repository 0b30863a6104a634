"""The project board: the project's cards in their seven columns, one list per column.

Unlike the run board (a run's subtasks, src/podium/tui/widgets/board.py) its
cards are the project's own work list, kept in the file; each column is an
OptionList so a card can be picked with the arrows (left/right: the next column).
A column's list is rebuilt only when what it shows changed, keeping the
highlighted card.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from podium.domain import Card, CardColumn, CardPriority, card_ref

PRIORITY_MARK = {CardPriority.URGENT: ("‼", "bold red"), CardPriority.HIGH: ("↑", "yellow"),
                 CardPriority.NORMAL: ("", ""), CardPriority.LOW: ("↓", "dim")}


def column_id(column: CardColumn) -> str:
    return f"cards-{column.value}"


def card_text(card: Card, *, worker: str | None = None) -> Text:
    """A card on the board: its id, priority and title, then team, dependencies, runs and who works it.
    `worker`: this app's heartbeat (its cards say so)."""
    mark, style = PRIORITY_MARK[card.priority]
    text = Text()
    text.append(card.ref, "bold")
    if mark:
        text.append(f" {mark}", style)
    text.append(f" {card.title}")
    facts = [card.team or ""]
    if card.depends_on:
        facts.append("after " + ",".join(card_ref(d) for d in card.depends_on))
    if card.runs:
        facts.append(f"{len(card.runs)} run" + ("s" if len(card.runs) > 1 else ""))
    if card.claimed_by:
        facts.append("⚙ heartbeat" if card.claimed_by == worker else "⚙ worked")
    if card.created_by != "user":
        facts.append(f"by {card.created_by}")
    line = " · ".join(f for f in facts if f)
    if line:
        text.append(f"\n{line}", "dim")
    return text


class CardList(OptionList):
    """One column's cards; the option ids are the cards' refs (c12)."""

    DEFAULT_CSS = """
    CardList { height: 1fr; max-height: 100%; scrollbar-size-vertical: 1; background: transparent; }
    CardList:focus { background-tint: $foreground 4%; }
    """

    def __init__(self, column: CardColumn) -> None:
        super().__init__(id=column_id(column))
        self.compact = True  # no border: seven columns share the width
        self.column = column
        self.shown: list[tuple[str, str]] = []  # (ref, plain text): what the list shows now

    def show(self, cards: list[Card], worker: str | None) -> None:
        texts = [(c.ref, card_text(c, worker=worker)) for c in cards]
        wanted = [(ref, t.plain) for ref, t in texts]
        if wanted == self.shown:
            return
        keep = self.selected_ref
        self.shown = wanted
        self.clear_options()
        options: list[Option | None] = []
        for ref, text in texts:
            if options:
                options.append(None)  # a separator line between cards
            options.append(Option(text, id=ref))
        self.add_options(options)
        if not texts:
            return
        refs = [ref for ref, _ in texts]
        self.highlighted = refs.index(keep) if keep in refs else 0

    @property
    def selected_ref(self) -> str | None:
        if self.highlighted is None or not self.option_count:
            return None
        return self.get_option_at_index(self.highlighted).id

    def select_ref(self, ref: str) -> bool:
        refs = [r for r, _ in self.shown]
        if ref not in refs:
            return False
        self.highlighted = refs.index(ref)
        return True


class BoardColumnView(Vertical):
    DEFAULT_CSS = """
    BoardColumnView { width: 1fr; height: 100%; padding: 0 1 0 0; }
    BoardColumnView > Label { width: 100%; text-style: bold; color: $text-muted; text-wrap: nowrap;
        text-overflow: ellipsis; }
    BoardColumnView.-busy > Label { color: $text; }
    BoardColumnView:focus-within > Label { color: $primary; }
    BoardColumnView#colview-needs_help.-busy > Label { color: $warning; }
    BoardColumnView#colview-failed.-busy > Label { color: $error; }
    """

    def __init__(self, column: CardColumn) -> None:
        super().__init__(id=f"colview-{column.value}")
        self.column = column

    def compose(self):  # type: ignore[no-untyped-def]
        yield Label(f"{self.column.label} (0)")
        yield CardList(self.column)

    @property
    def cards(self) -> CardList:
        return self.query_one(CardList)

    def recount(self, n: int) -> None:
        self.query_one(Label).update(f"{self.column.label} ({n})")
        self.set_class(n > 0, "-busy")


class ProjectBoard(Horizontal):
    DEFAULT_CSS = """
    ProjectBoard { height: 1fr; border: round $foreground 30%; padding: 0 1; }
    ProjectBoard:focus-within { border: round $primary; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.cards: dict[str, Card] = {}
        # The column the keys act on: set at once by `focus_column` (focus moves a moment later, so
        # keys typed fast would otherwise all start from the same column) and by any focus change.
        self._active: CardList | None = None

    def compose(self):  # type: ignore[no-untyped-def]
        self.border_title = "Project board"
        for column in CardColumn:
            yield BoardColumnView(column)

    def column(self, column: CardColumn) -> BoardColumnView:
        return self.query_one(f"#colview-{column.value}", BoardColumnView)

    def lists(self) -> list[CardList]:
        return [self.column(c).cards for c in CardColumn]

    def sync(self, cards: list[Card], *, worker: str | None = None) -> None:
        """Show these cards (in the order given: by priority, then age)."""
        self.cards = {c.ref: c for c in cards}
        for column in CardColumn:
            here = [c for c in cards if c.column is column]
            view = self.column(column)
            view.cards.show(here, worker)
            view.recount(len(here))

    def refs_in(self, column: CardColumn) -> list[str]:
        return [ref for ref, _ in self.column(column).cards.shown]

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, CardList):
            self._active = event.widget

    def focused_list(self) -> CardList | None:
        if self._active is not None:
            return self._active
        focused = self.screen.focused
        return focused if isinstance(focused, CardList) else None

    def selected(self) -> Card | None:
        """The highlighted card of the column with focus."""
        lst = self.focused_list()
        ref = lst.selected_ref if lst is not None else None
        return self.cards.get(ref) if ref else None

    def select(self, ref: str) -> bool:
        """Focus a card's column and highlight it."""
        card = self.cards.get(ref)
        if card is None:
            return False
        lst = self.column(card.column).cards
        self._active = lst
        lst.focus()
        return lst.select_ref(ref)

    def focus_column(self, step: int) -> None:
        lists = self.lists()
        current = self.focused_list()
        index = lists.index(current) if current in lists else 0
        target = lists[(index + step) % len(lists)]
        self._active = target
        target.focus()
