"""The kanban board: a card per subtask, moved between columns by key, never rebuilt.

The board takes focus as a whole and keeps one selected card (a subtask id): the arrows
move it (up/down within a column, left/right to the nearest column with cards), a click
picks a card. The run screen's task keys act on it while the board has focus.
"""

from __future__ import annotations

import re

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Label, Static

from podium.domain import BoardColumn, KanbanCard, SubtaskStatus
from podium.tui.state import STATUS_SYMBOL

_SLUG = re.compile(r"[^A-Za-z0-9_-]")


def column_id(column: BoardColumn) -> str:
    return "col-" + column.name.lower()


def card_id(subtask_id: str) -> str:
    return "card-" + _SLUG.sub("_", subtask_id)


class Card(Static):
    DEFAULT_CSS = """
    Card { height: auto; border: round $foreground 30%; padding: 0 1; text-wrap: nowrap;
        text-overflow: ellipsis; }
    Card.-running { border: round $primary; }
    Card.-waiting_peer { border: round $secondary; }
    Card.-needs_help { border: heavy $warning; }
    Card.-review { border: round $accent; }
    Card.-done { border: round $success 60%; }
    Card.-failed, Card.-blocked { border: round $error; }
    Card.-selected { text-style: underline; }
    """

    def __init__(self, card: KanbanCard, *, selected: bool = False) -> None:
        super().__init__(id=card_id(card.subtask_id))
        self.card = card
        self.set_class(selected, "-selected")
        self._apply()

    def on_click(self, event: events.Click) -> None:
        for ancestor in self.ancestors:
            if isinstance(ancestor, Board):
                ancestor.selected = self.card.subtask_id
                ancestor.focus(scroll_visible=False)
                return

    def set_card(self, card: KanbanCard) -> None:
        if card != self.card:
            self.card = card
            self._apply()

    def _apply(self) -> None:
        c = self.card
        for status in SubtaskStatus:
            self.set_class(status is c.status, f"-{status.value}")
        text = Text(f"{STATUS_SYMBOL[c.status]} {c.subtask_id} {c.agent}\n", "bold")
        text.append(c.title)
        if c.status in (SubtaskStatus.RUNNING, SubtaskStatus.WAITING_PEER):
            filled = round(c.progress * 6)
            text.append("\n" + "▰" * filled + "▱" * (6 - filled))
            if c.status is SubtaskStatus.WAITING_PEER:
                text.append(" waiting peer", "italic")
        elif c.status is SubtaskStatus.NEEDS_HELP:
            text.append("\nneeds you (h)", "bold")
        elif c.status is SubtaskStatus.BLOCKED:
            text.append("\nblocked", "italic")
        self.update(text)


class CardScroll(VerticalScroll, can_focus=False):
    """A column's cards; the board takes focus, not each column (the wheel still scrolls it)."""


class Column(Vertical):
    DEFAULT_CSS = """
    Column { width: 1fr; height: 100%; padding: 0 1 0 0; }
    Column > Label { width: 100%; text-style: bold; color: $text-muted; text-wrap: nowrap;
        text-overflow: ellipsis; }
    Column.-busy > Label { color: $text; }
    Column#col-needs_help.-busy > Label { color: $warning; }
    Column > CardScroll { height: 1fr; scrollbar-size-vertical: 1; }
    """

    def __init__(self, column: BoardColumn) -> None:
        super().__init__(id=column_id(column))
        self.column = column

    def compose(self):  # type: ignore[no-untyped-def]
        yield Label(f"{self.column.value} (0)")
        yield CardScroll()

    @property
    def cards(self) -> CardScroll:
        return self.query_one(CardScroll)

    def recount(self, n: int) -> None:
        self.query_one(Label).update(f"{self.column.value} ({n})")
        self.set_class(n > 0, "-busy")


class Board(Horizontal, can_focus=True):
    DEFAULT_CSS = """
    Board { border: round $foreground 30%; height: 1fr; padding: 0 1; }
    Board:focus-within { border: round $primary; }
    Board:focus Card.-selected { text-style: reverse; }
    """

    BINDINGS = [
        Binding("up", "move_card(-1)", "Up", show=False),
        Binding("down", "move_card(1)", "Down", show=False),
        Binding("left", "move_column(-1)", "Left", show=False),
        Binding("right", "move_column(1)", "Right", show=False),
    ]

    # The selected card's subtask id: what the run screen's task keys act on while the board has focus.
    selected: reactive[str | None] = reactive(None, init=False)

    class Selected(Message):
        def __init__(self, subtask_id: str | None) -> None:
            super().__init__()
            self.subtask_id = subtask_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._cards: dict[str, Card] = {}

    def compose(self):  # type: ignore[no-untyped-def]
        self.border_title = "Board"
        for column in BoardColumn:
            yield Column(column)

    def column(self, column: BoardColumn) -> Column:
        return self.query_one(f"#{column_id(column)}", Column)

    def sync(self, cards: list[KanbanCard]) -> None:
        """Update cards in place; a card whose column changed moves (only that card)."""
        wanted = {c.subtask_id for c in cards}
        touched: set[BoardColumn] = set()
        for sid in list(self._cards):
            if sid not in wanted:
                old = self._cards.pop(sid)
                touched.add(old.card.column)
                old.remove()
        for card in cards:
            widget = self._cards.get(card.subtask_id)
            if widget is not None and widget.card.column == card.column:
                widget.set_card(card)
                continue
            if widget is not None:
                touched.add(widget.card.column)
                widget.remove()
            fresh = Card(card, selected=card.subtask_id == self.selected)
            self._cards[card.subtask_id] = fresh
            self.column(card.column).cards.mount(fresh)
            touched.add(card.column)
        if touched:
            for column in BoardColumn:
                self.column(column).recount(
                    sum(c.card.column == column for c in self._cards.values())
                )

        if self.selected is not None and self.selected not in self._cards:
            self.selected = None
        if self.selected is None and self.has_focus:
            self.selected = self._first()

    def card(self, subtask_id: str) -> Card | None:
        return self._cards.get(subtask_id)

    # ------------------------------------------------------------ the selected card

    def shown(self, column: BoardColumn) -> list[Card]:
        """A column's cards top to bottom (not one on its way out to another column)."""
        return [c for c in self.column(column).cards.children
                if isinstance(c, Card) and self._cards.get(c.card.subtask_id) is c]

    def _first(self) -> str | None:
        for column in BoardColumn:
            shown = self.shown(column)
            if shown:
                return shown[0].card.subtask_id
        return None

    def watch_selected(self, old: str | None, new: str | None) -> None:
        for sid, on in ((old, False), (new, True)):
            widget = self._cards.get(sid) if sid else None
            if widget is not None:
                widget.set_class(on, "-selected")
                if on:
                    widget.scroll_visible(animate=False)
        self.post_message(self.Selected(new))

    def on_focus(self) -> None:
        if self.selected not in self._cards:
            self.selected = self._first()

    def _where(self) -> tuple[int, int] | None:
        """(column index, row) of the selected card."""
        widget = self._cards.get(self.selected) if self.selected else None
        if widget is None:
            return None
        columns = list(BoardColumn)
        col = columns.index(widget.card.column)
        shown = self.shown(widget.card.column)
        return col, shown.index(widget) if widget in shown else 0

    def action_move_card(self, step: int) -> None:
        where = self._where()
        if where is None:
            self.selected = self._first()
            return
        col, row = where
        shown = self.shown(list(BoardColumn)[col])
        if shown:
            self.selected = shown[max(0, min(len(shown) - 1, row + step))].card.subtask_id

    def action_move_column(self, step: int) -> None:
        """To the nearest column with cards that way, at the same row (or its last card)."""
        where = self._where()
        if where is None:
            self.selected = self._first()
            return
        col, row = where
        columns = list(BoardColumn)
        index = col + step
        while 0 <= index < len(columns):
            shown = self.shown(columns[index])
            if shown:
                self.selected = shown[min(row, len(shown) - 1)].card.subtask_id
                return
            index += step
