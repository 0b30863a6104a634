"""The kanban board: a card per subtask, moved between columns by key, never rebuilt."""

from __future__ import annotations

import re

from rich.text import Text
from textual.containers import Horizontal, Vertical, VerticalScroll
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
    """

    def __init__(self, card: KanbanCard) -> None:
        super().__init__(id=card_id(card.subtask_id))
        self.card = card
        self._apply()

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


class Column(Vertical):
    DEFAULT_CSS = """
    Column { width: 1fr; height: 100%; padding: 0 1 0 0; }
    Column > Label { width: 100%; text-style: bold; color: $text-muted; text-wrap: nowrap;
        text-overflow: ellipsis; }
    Column.-busy > Label { color: $text; }
    Column#col-needs_help.-busy > Label { color: $warning; }
    Column > VerticalScroll { height: 1fr; scrollbar-size-vertical: 1; }
    """

    def __init__(self, column: BoardColumn) -> None:
        super().__init__(id=column_id(column))
        self.column = column

    def compose(self):  # type: ignore[no-untyped-def]
        yield Label(f"{self.column.value} (0)")
        yield VerticalScroll()

    @property
    def cards(self) -> VerticalScroll:
        return self.query_one(VerticalScroll)

    def recount(self, n: int) -> None:
        self.query_one(Label).update(f"{self.column.value} ({n})")
        self.set_class(n > 0, "-busy")


class Board(Horizontal):
    DEFAULT_CSS = """
    Board { border: round $foreground 30%; height: 1fr; padding: 0 1; }
    Board:focus-within { border: round $primary; }
    """

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
            fresh = Card(card)
            self._cards[card.subtask_id] = fresh
            self.column(card.column).cards.mount(fresh)
            touched.add(card.column)
        if touched:
            for column in BoardColumn:
                self.column(column).recount(
                    sum(c.card.column == column for c in self._cards.values())
                )

    def card(self, subtask_id: str) -> Card | None:
        return self._cards.get(subtask_id)
