"""The project board screen: the project's cards by column, kept live, with keys to change them
and to start or stop the team's heartbeat.

It follows the file as a run screen follows a run: this process's changes arrive on
the session's bus at once; another process's (`podium work`, `podium board` in another
terminal, the heartbeat's own session) are found by polling the committed
`card.changed` events every second. Either way the cards are listed again (a board is
small) and each column redrawn only if what it shows changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import OptionList, Static

from podium import events as ev
from podium.app.board import CardFields
from podium.domain import Card, CardColumn, CardPriority, RunSummary
from podium.errors import PodiumError
from podium.tui.commands import PaletteCommand
from podium.tui.keys import BOARD_BINDINGS, BOARD_CHANGING_ACTIONS
from podium.tui.screens.card_forms import CardDetail, CardForm, ColumnPicker, changed_fields
from podium.tui.screens.heading import heading_css, title_line
from podium.tui.screens.modals import Confirm
from podium.tui.widgets.footer import KeyFooter
from podium.tui.widgets.project_board import CardList, ProjectBoard

if TYPE_CHECKING:
    from podium.tui.app import PodiumApp

POLL_SECONDS = 1.0
READ_ONLY = "Read-only archive: the board cannot be changed here (opened with `podium open`)."


class BoardScreen(Screen[None]):
    DEFAULT_CSS = heading_css("BoardScreen", "board-title", "board-readonly") + """
    BoardScreen #heartbeat { height: 1; padding: 0 1; color: $text-muted; text-wrap: nowrap;
        text-overflow: ellipsis; }
    BoardScreen.-beating #heartbeat { color: $success; }
    BoardScreen #board-empty { height: auto; padding: 0 2; color: $text-muted; display: none; }
    BoardScreen.-empty #board-empty { display: block; }
    """

    BINDINGS = BOARD_BINDINGS  # type: ignore[assignment]  # Bindings only; the base allows tuples too

    def __init__(self) -> None:
        super().__init__(id="board")
        self.loaded = asyncio.Event()
        self.reloads = 0  # how many times the cards were listed (tests wait on it)
        self._select_next: str | None = None
        self._heartbeat_line = ""

    @property
    def podium(self) -> PodiumApp:
        return self.app  # type: ignore[return-value]

    @property
    def board(self) -> ProjectBoard:
        return self.query_one(ProjectBoard)

    def compose(self) -> ComposeResult:
        yield Static(id="board-title")
        yield Static(READ_ONLY, id="board-readonly")
        yield Static(id="heartbeat")
        yield Static(id="board-empty")
        yield ProjectBoard()
        yield KeyFooter()

    def on_mount(self) -> None:
        app = self.podium
        self.set_class(app.readonly, "-readonly")
        self.query_one("#board-title", Static).update(title_line(app.project, "project board"))
        self._show_heartbeat()
        self.set_interval(0.5, self._show_heartbeat, name="heartbeat-line")
        self.board.column(CardColumn.TODO).cards.focus()
        self._follow()

    # ------------------------------------------------------------ following the file

    @work(group="board-follow", exclusive=True, exit_on_error=False)
    async def _follow(self) -> None:
        board = self.podium.session.board
        async with board.subscribe() as queue:
            seq = await board.last_seq()
            await self._reload()
            self.loaded.set()
            while True:
                try:
                    first = await asyncio.wait_for(queue.get(), POLL_SECONDS)
                except TimeoutError:
                    changes = await board.changes_since(seq)
                    if not changes:
                        continue
                else:
                    batch = [first]
                    while not queue.empty():
                        batch.append(queue.get_nowait())
                    if not any(e.type == ev.CARD_CHANGED for e in batch):
                        continue
                # Read before listing: a change committed meanwhile is found by the next poll.
                seq = await board.last_seq()
                await self._reload()

    def poke(self) -> None:
        """List the cards again now (the heartbeat just changed one: no need to wait for the poll)."""
        if self.loaded.is_set():
            self.run_worker(self._reload(), group="board-poke", exclusive=True, exit_on_error=False)

    async def _reload(self) -> None:
        cards = await self.podium.session.board.list()
        heartbeat = self.podium.heartbeat
        self.board.sync(cards, worker=heartbeat.worker_name if heartbeat is not None else None)
        self.reloads += 1
        self.set_class(not cards, "-empty")
        if not cards:
            self.query_one("#board-empty", Static).update(self._empty_hint())
        if self._select_next and self.board.select(self._select_next):
            self._select_next = None

    def _empty_hint(self) -> str:
        if self.podium.readonly:
            return "This archive's board has no cards."
        return ("No cards yet: press a to add one (or `podium board add \"...\"` from a terminal); "
                "w starts the heartbeat that works To do.")

    def _show_heartbeat(self) -> None:
        heartbeat = self.podium.heartbeat
        line = heartbeat.status_line() if heartbeat is not None else "heartbeat off · w starts it"
        if self.podium.readonly:
            line = "heartbeat unavailable: read-only archive"
        if line != self._heartbeat_line:
            self._heartbeat_line = line
            self.query_one("#heartbeat", Static).update(Text("♥ " + line))
            self.set_class(heartbeat is not None and heartbeat.running, "-beating")

    # ------------------------------------------------------------ keys

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A read-only archive shows its board but offers no change (the footer leaves them out).
        return not (self.podium.leaving or (self.podium.readonly and action in BOARD_CHANGING_ACTIONS))

    def on_key(self, event: events.Key) -> None:
        """In an archive the change keys are not bound: say why instead of doing nothing."""
        if not self.podium.readonly:
            return
        bound = self.podium.bindings_of(self).key_to_bindings.get(event.key, [])
        if any(b.action.split("(")[0] in BOARD_CHANGING_ACTIONS for b in bound):
            event.stop()
            self.notify(READ_ONLY, severity="warning", title="read-only")

    def _selected(self) -> Card | None:
        card = self.board.selected()
        if card is None:
            self.notify("Select a card first (the arrows move between cards and columns).",
                        severity="warning")
        return card

    def _run_change(self, label: str, change: Coroutine[Any, Any, str]) -> None:
        """Run a board change; what it did, or why not, as a notification."""
        async def runner() -> None:
            try:
                said = await change
            except PodiumError as exc:
                self.notify(str(exc), severity="error", title=label, timeout=8)
                return
            if said:
                self.notify(str(said), title=label, timeout=4)

        self.run_worker(runner(), group="board-change", exit_on_error=False)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_column(self, step: int) -> None:
        self.board.focus_column(step)

    def action_card_add(self) -> None:
        app = self.podium

        async def save(fields: CardFields) -> str:
            card = await app.session.board.add(fields)
            self._select_next = card.ref
            return f"{card.ref} added to {card.column.label}"

        self.app.push_screen(CardForm("New card", save=save, teams=app.team_names()), self._said("add"))

    def action_card_edit(self) -> None:
        card = self._selected()
        if card is None:
            return
        app = self.podium

        async def save(fields: CardFields) -> str:
            changes = changed_fields(card, fields)
            if all(v is None for v in vars(changes).values()):
                return f"{card.ref}: nothing changed"
            edited = await app.session.board.edit(card.ref, changes)
            return f"{edited.ref} saved"

        self.app.push_screen(CardForm(f"Edit {card.ref}", save=save, teams=app.team_names(), card=card),
                             self._said("edit"))

    def _said(self, label: str):  # type: ignore[no-untyped-def]
        def done(said: str | None) -> None:
            if said:
                self.notify(said, title=label, timeout=4)
        return done

    def action_card_move(self) -> None:
        card = self._selected()
        if card is None:
            return

        def picked(column: CardColumn | None) -> None:
            if column is None or column is card.column:
                return
            self._select_next = card.ref
            self._run_change("move", self._move(card, column))

        self.app.push_screen(ColumnPicker(card), picked)

    async def _move(self, card: Card, column: CardColumn) -> str:
        moved = await self.podium.session.board.move(card.ref, column)
        return f"{moved.ref} → {moved.column.label}"

    def action_card_priority(self, step: int) -> None:
        card = self._selected()
        if card is None:
            return
        target = CardPriority.of_rank(card.priority.rank + step)
        if target is card.priority:
            self.notify(f"{card.ref} is already {card.priority.value} priority.", severity="warning")
            return
        self._run_change("priority", self._reprioritise(card, step))

    async def _reprioritise(self, card: Card, step: int) -> str:
        changed = await self.podium.session.board.reprioritise(card.ref, step)
        return f"{changed.ref} priority {changed.priority.value}"

    def action_card_archive(self) -> None:
        card = self._selected()
        if card is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._run_change("archive", self._archive(card))

        self.app.push_screen(Confirm(f"Archive {card.ref}?", f"{card.title}\n\nIt leaves the board (kept in "
                                     "the file: `podium board --archived` lists it).", yes="Archive"),
                             answered)

    async def _archive(self, card: Card) -> str:
        archived = await self.podium.session.board.archive(card.ref)
        return f"{archived.ref} archived"

    def action_card_detail(self) -> None:
        card = self._selected()
        if card is not None:
            self._detail(card.ref)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if isinstance(event.option_list, CardList) and event.option.id:
            event.stop()
            self._detail(event.option.id)

    @work(group="card-detail", exclusive=True, exit_on_error=False)
    async def _detail(self, ref: str) -> None:
        app = self.podium
        try:
            card = await app.session.board.get(ref)
        except PodiumError as exc:
            self.notify(str(exc), severity="error")
            return
        runs: dict[str, RunSummary | None] = {}
        queries = app.queries
        for run_id in card.runs:
            runs[run_id] = await queries.run(run_id) if queries is not None else None

        def chosen(run_id: str | None) -> None:
            if run_id:
                app.open_run(run_id)

        await app.push_screen(CardDetail(card, runs), chosen)

    def action_card_run(self) -> None:
        card = self._selected()
        if card is None:
            return
        if not card.runs:
            self.notify(f"{card.ref} has no run yet.", severity="warning")
            return
        self.podium.open_run(card.runs[-1])

    def action_heartbeat(self) -> None:
        self.podium.toggle_heartbeat()
        self._show_heartbeat()

    def palette_commands(self) -> list[PaletteCommand]:
        commands: list[PaletteCommand] = []
        for ref, card in list(self.board.cards.items())[:30]:
            commands.append((f"Card {ref}: {card.title[:50]}", f"{card.column.label} · {card.priority.value}",
                             partial(self._detail, ref)))
        return commands
