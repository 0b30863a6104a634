"""The project board's use cases: the cards people and agents add, edit, move and archive.

Cards people add go to To do (or Backlog if asked); cards agents propose go
to Backlog unless the project's policy (`board.proposals_to` = todo) lets them
straight into To do. Every change names who made it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from podium.domain import Card, CardColumn, CardPriority, Event, parse_card_ref
from podium.errors import PodiumError
from podium.store.cards import PROPOSALS_POLICY_KEY, CardRepository
from podium.store.project import ProjectStore


@dataclass(frozen=True)
class CardFields:
    """What a person gives for a card (`podium board add/edit`, the TUI's card form); None: unchanged."""

    title: str | None = None
    details: str | None = None
    criteria: list[str] | None = None
    priority: str | None = None
    team: str | None = None
    after: list[str] | None = None


def parse_refs(refs: list[str]) -> list[int]:
    try:
        return [parse_card_ref(r) for r in refs]
    except ValueError as exc:
        raise PodiumError(str(exc)) from None


def parse_priority(text: str) -> CardPriority:
    try:
        return CardPriority(text.strip().lower())
    except ValueError:
        raise PodiumError(f"no priority {text!r}: choose one of "
                          f"{', '.join(p.value for p in CardPriority)}") from None


def parse_column(text: str) -> CardColumn:
    try:
        return CardColumn.parse(text)
    except ValueError as exc:
        raise PodiumError(str(exc)) from None


class Board:
    """The board of one project file. `known_team` checks a team name (the session's teams)."""

    def __init__(self, store: ProjectStore, known_team: Callable[[str], object]) -> None:
        self.cards = CardRepository(store)
        self.store = store
        self._known_team = known_team

    # ------------------------------------------------------------ following changes

    def subscribe(self) -> AbstractAsyncContextManager[asyncio.Queue[Event]]:
        """`async with board.subscribe() as queue`: the events this process publishes while the block
        runs (a card's `card.changed` among them); another process's: `changes_since`."""
        return self.store.bus.subscribe(None)

    async def last_seq(self) -> int:
        """Where following starts: the newest event now (read it before listing the cards)."""
        return await self.cards.last_seq()

    async def changes_since(self, seq: int) -> list[Event]:
        """The `card.changed` events any process committed after `seq`, oldest first."""
        return await self.cards.changes_since(seq)

    # ------------------------------------------------------------ cards

    async def list(self, *, archived: bool = False) -> list[Card]:
        return await self.cards.all(archived=archived)

    async def get(self, ref: str) -> Card:
        return await self.cards.get(parse_refs([ref])[0])

    async def add(self, fields: CardFields, *, backlog: bool = False, by: str = "user") -> Card:
        if not (fields.title or "").strip():
            raise PodiumError("a card needs a title")
        team = self._team(fields.team)
        card = Card(id=0, title=(fields.title or "").strip(), details=fields.details or "",
                    criteria=fields.criteria or [],
                    priority=parse_priority(fields.priority) if fields.priority else CardPriority.NORMAL,
                    team=team, column=CardColumn.BACKLOG if backlog else CardColumn.TODO,
                    depends_on=parse_refs(fields.after or []), created_by=by)
        return await self.cards.add(card, by=by)

    async def propose(self, title: str, *, reason: str, run_id: str | None, agent: str,
                      team: str | None = None, details: str = "") -> Card:
        return await self.cards.propose(title, reason=reason, run_id=run_id, agent=agent, team=team,
                                        details=details)

    async def edit(self, ref: str, fields: CardFields, *, by: str = "user") -> Card:
        card_id = parse_refs([ref])[0]
        team = None if fields.team is None else (self._team(fields.team) or "")
        return await self.cards.edit(
            card_id, by=by, title=fields.title, details=fields.details, criteria=fields.criteria,
            priority=parse_priority(fields.priority) if fields.priority else None, team=team,
            depends_on=None if fields.after is None else parse_refs(fields.after))

    async def move(self, ref: str, column: str | CardColumn, *, by: str = "user") -> Card:
        card_id = parse_refs([ref])[0]
        target = column if isinstance(column, CardColumn) else parse_column(column)
        card = await self.cards.get(card_id)
        if card.column is CardColumn.IN_PROGRESS and card.claimed_by and target is not CardColumn.IN_PROGRESS:
            from podium.store.cards import worker_alive

            if await worker_alive(self.store, card):
                raise PodiumError(f"{card.ref} is being worked by {card.claimed_by}; halt its run "
                                  f"(`podium halt {card.runs[-1] if card.runs else 'RUN'}`) first")
        return await self.cards.move(card_id, target, by=by)

    async def reprioritise(self, ref: str, step: int, *, by: str = "user") -> Card:
        """One step up (-1) or down (+1) in priority."""
        card = await self.get(ref)
        return await self.cards.edit(card.id, by=by, priority=CardPriority.of_rank(card.priority.rank + step))

    async def archive(self, ref: str, *, by: str = "user") -> Card:
        return await self.cards.archive(parse_refs([ref])[0], by=by)

    async def claim_next(self, worker: str, *, team: str | None = None) -> Card | None:
        """Take the next ready card from To do for `worker` (atomic across processes)."""
        return await self.cards.claim_next(worker, team=team)

    async def set_proposals_policy(self, column: CardColumn) -> None:
        if column not in (CardColumn.BACKLOG, CardColumn.TODO):
            raise PodiumError("agents' cards go to Backlog or To do")
        await self.store.set_meta(PROPOSALS_POLICY_KEY, column.value)

    def _team(self, name: str | None) -> str | None:
        if not name:
            return None
        self._known_team(name)  # raises a clear error for an unknown team
        return name
