"""The project board's cards: the work list that lives in the project, not in a run.

Every change is written with its `card.changed` event in one transaction.
Taking a card (`claim_next`) is one IMMEDIATE transaction, so two `podium
work` processes on one file never take the same card: SQLite lets one writer
in at a time and the second sees the first one's claim.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from podium import events
from podium.domain import Card, CardColumn, CardPriority, Event, card_ref
from podium.errors import NotFoundError, PodiumError
from podium.store.project import ProjectStore, Tx, row_to_event
from podium.store.runs import lease_alive, process_alive

PROPOSALS_POLICY_KEY = "board.proposals_to"

# A card is ready when every card it depends on is done.
_TEAM = "(? IS NULL OR c.team IS NULL OR c.team = ?)"
_READY = """
    c.column_key = 'todo' AND c.archived = 0
    AND NOT EXISTS (SELECT 1 FROM json_each(c.depends_json) d JOIN cards x ON x.id = d.value
                    WHERE x.column_key != 'done')
"""


class CardRepository:
    def __init__(self, store: ProjectStore) -> None:
        self.store = store

    # ------------------------------------------------------------ reads

    async def all(self, *, archived: bool = False) -> list[Card]:
        """Cards by column order, then priority, then age; archived ones only if asked."""
        rows = await self.store.query(
            "SELECT * FROM cards WHERE archived = 0 OR ? ORDER BY priority, id", (1 if archived else 0,))
        runs = await self._runs([r["id"] for r in rows])
        return [_card(r, runs.get(r["id"], [])) for r in rows]

    async def get(self, card_id: int) -> Card:
        row = await self.store.query_one("SELECT * FROM cards WHERE id = ?", (card_id,))
        if row is None:
            raise NotFoundError(f"no card {card_ref(card_id)} (see `podium board`)")
        return _card(row, (await self._runs([card_id])).get(card_id, []))

    async def of_run(self, run_id: str) -> Card | None:
        row = await self.store.query_one(
            "SELECT c.* FROM cards c JOIN card_runs r ON r.card_id = c.id WHERE r.execution_id = ?",
            (run_id,))
        if row is None:
            return None
        return _card(row, (await self._runs([row["id"]])).get(row["id"], []))

    async def changes_since(self, seq: int, limit: int = 500) -> list[Event]:
        """The `card.changed` events committed after `seq` (by any process), oldest first: how a
        board on screen follows cards another process changes."""
        rows = await self.store.query(
            "SELECT * FROM events WHERE seq > ? AND type = ? ORDER BY seq LIMIT ?",
            (seq, events.CARD_CHANGED, limit))
        return [row_to_event(r) for r in rows]

    async def last_seq(self) -> int:
        """The newest event's seq: a follower asks `changes_since` from here."""
        row = await self.store.query_one("SELECT coalesce(max(seq), 0) FROM events")
        return int(row[0]) if row else 0

    async def _runs(self, ids: Iterable[int]) -> dict[int, list[str]]:
        wanted = list(ids)
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        rows = await self.store.query(
            f"SELECT card_id, execution_id FROM card_runs WHERE card_id IN ({marks}) ORDER BY created_at",
            wanted)
        runs: dict[int, list[str]] = {}
        for row in rows:
            runs.setdefault(row[0], []).append(row[1])
        return runs

    # ------------------------------------------------------------ writes

    async def add(self, card: Card, *, by: str) -> Card:
        """A new card (its `id` is ignored: the file numbers cards)."""

        def write(tx: Tx) -> int:
            _check_depends(tx, None, card.depends_on)
            stamp = time.time()
            cur = tx.execute(
                "INSERT INTO cards (title, details, criteria_json, priority, team, column_key, depends_json,"
                " created_by, source_execution, source_agent, reason, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (card.title, card.details, json.dumps(card.criteria), card.priority.rank, card.team,
                 card.column.value, json.dumps(card.depends_on), card.created_by, card.source_execution,
                 card.source_agent, card.reason, stamp, stamp))
            new_id: int = cur.lastrowid
            cur.close()
            tx.emit(events.CARD_CHANGED, card.source_execution, card=card_ref(new_id), action="added",
                    column=card.column.value, title=card.title, by=by, note=card.reason)
            return new_id

        return await self.get(await self.store.write(write))

    async def propose(self, title: str, *, reason: str, run_id: str | None, agent: str,
                      team: str | None = None, details: str = "") -> Card:
        """A card an agent (or the leader) files from a run: into Backlog, unless the project's
        policy (meta `board.proposals_to` = todo) lets proposals straight into To do."""
        if not title.strip():
            raise PodiumError("a proposed card needs a title")
        policy = await self.store.get_meta(PROPOSALS_POLICY_KEY)
        column = CardColumn.TODO if policy == CardColumn.TODO.value else CardColumn.BACKLOG
        card = Card(id=0, title=title.strip()[:200], details=details, team=team, column=column,
                    created_by=agent, source_execution=run_id, source_agent=agent, reason=reason or None)
        return await self.add(card, by=agent)

    async def edit(self, card_id: int, *, by: str, title: str | None = None, details: str | None = None,
                   criteria: list[str] | None = None, priority: CardPriority | None = None,
                   team: str | None = None, depends_on: list[int] | None = None) -> Card:
        """Change what a card says (only the fields given)."""
        changes: dict[str, Any] = {}
        if title is not None:
            if not title.strip():
                raise PodiumError("a card's title cannot be empty")
            changes["title"] = title
        if details is not None:
            changes["details"] = details
        if criteria is not None:
            changes["criteria_json"] = json.dumps(criteria)
        if priority is not None:
            changes["priority"] = priority.rank
        if team is not None:
            changes["team"] = team or None
        if depends_on is not None:
            changes["depends_json"] = json.dumps(depends_on)
        if not changes:
            raise PodiumError("nothing to change: give at least one option")

        def write(tx: Tx) -> None:
            row = _row(tx, card_id)
            if depends_on is not None:
                _check_depends(tx, card_id, depends_on)
            sets = ", ".join(f"{k} = ?" for k in changes)
            tx.execute(f"UPDATE cards SET {sets}, updated_at = ? WHERE id = ?",
                       (*changes.values(), time.time(), card_id)).close()
            tx.emit(events.CARD_CHANGED, None, card=card_ref(card_id), action="edited",
                    column=row["column_key"], title=changes.get("title", row["title"]), by=by,
                    note=", ".join(k.removesuffix("_json") for k in changes))

        await self.store.write(write)
        return await self.get(card_id)

    async def move(self, card_id: int, column: CardColumn, *, by: str, result: str | None = None,
                   run_id: str | None = None, action: str = "moved") -> Card:
        """Put a card in a column (a person's move, or a worker finishing it); the claim is let go
        unless it moves to In progress."""

        def write(tx: Tx) -> None:
            row = _row(tx, card_id)
            keep_claim = column is CardColumn.IN_PROGRESS
            tx.execute(
                "UPDATE cards SET column_key = ?, claimed_by = CASE WHEN ? THEN claimed_by END,"
                " result = coalesce(?, result), archived = 0, updated_at = ? WHERE id = ?",
                (column.value, keep_claim, result, time.time(), card_id)).close()
            tx.emit(events.CARD_CHANGED, run_id, card=card_ref(card_id), action=action, column=column.value,
                    title=row["title"], by=by, run_id=run_id)

        await self.store.write(write)
        return await self.get(card_id)

    async def archive(self, card_id: int, *, by: str) -> Card:
        def write(tx: Tx) -> None:
            row = _row(tx, card_id)
            if row["column_key"] == CardColumn.IN_PROGRESS.value and row["claimed_by"]:
                raise PodiumError(f"{card_ref(card_id)} is being worked by {row['claimed_by']}; "
                                  "halt its run first")
            tx.execute("UPDATE cards SET archived = 1, updated_at = ? WHERE id = ?",
                       (time.time(), card_id)).close()
            tx.emit(events.CARD_CHANGED, None, card=card_ref(card_id), action="archived",
                    column=row["column_key"], title=row["title"], by=by)

        await self.store.write(write)
        return await self.get(card_id)

    async def claim_next(self, worker: str, *, team: str | None = None) -> Card | None:
        """Take the highest-priority ready card in To do (oldest first among equals), or None.

        `team`: only cards for that team or for none. One transaction: no two workers get one card.
        """

        def write(tx: Tx) -> int | None:
            row = tx.execute(
                f"SELECT c.id, c.title FROM cards c WHERE {_READY} AND {_TEAM}"
                " ORDER BY c.priority, c.id LIMIT 1", (team, team)).fetchone()
            if row is None:
                return None
            tx.execute("UPDATE cards SET column_key = 'in_progress', claimed_by = ?, updated_at = ?"
                       " WHERE id = ?", (worker, time.time(), row[0])).close()
            tx.emit(events.CARD_CHANGED, None, card=card_ref(row[0]), action="claimed",
                    column=CardColumn.IN_PROGRESS.value, title=row[1], by=worker)
            return int(row[0])

        claimed = await self.store.write(write)
        return None if claimed is None else await self.get(claimed)

    async def claim(self, card_id: int, worker: str, *, expected: str | None) -> bool:
        """Take over a card in progress whose worker `expected` is gone (resume after a crash);
        False if someone else took it first."""

        def write(tx: Tx) -> bool:
            cur = tx.execute(
                "UPDATE cards SET claimed_by = ?, updated_at = ? WHERE id = ? AND column_key = 'in_progress'"
                " AND claimed_by IS ?", (worker, time.time(), card_id, expected))
            took = cur.rowcount == 1
            cur.close()
            if took:
                row = _row(tx, card_id)
                tx.emit(events.CARD_CHANGED, None, card=card_ref(card_id), action="claimed",
                        column=row["column_key"], title=row["title"], by=worker,
                        note=f"taken over from {expected}" if expected else None)
            return took

        return bool(await self.store.write(write))

    async def release(self, card_id: int, worker: str) -> None:
        """The worker stops without finishing the card: it stays In progress with no worker, and
        the next worker takes it over (and resumes its run)."""

        def write(tx: Tx) -> None:
            cur = tx.execute("UPDATE cards SET claimed_by = NULL, updated_at = ?"
                             " WHERE id = ? AND claimed_by = ?", (time.time(), card_id, worker))
            released = cur.rowcount == 1
            cur.close()
            if released:  # a board on screen shows the card has no worker any more
                row = _row(tx, card_id)
                tx.emit(events.CARD_CHANGED, None, card=card_ref(card_id), action="released",
                        column=row["column_key"], title=row["title"], by=worker)

        await self.store.write(write)

    async def in_progress(self) -> list[Card]:
        return [c for c in await self.all() if c.column is CardColumn.IN_PROGRESS]

    async def link_run(self, card_id: int, run_id: str, *, by: str) -> None:
        def write(tx: Tx) -> None:
            row = _row(tx, card_id)
            tx.execute("INSERT OR IGNORE INTO card_runs (card_id, execution_id, created_at) VALUES (?, ?, ?)",
                       (card_id, run_id, time.time())).close()
            tx.emit(events.CARD_CHANGED, run_id, card=card_ref(card_id), action="linked",
                    column=row["column_key"], title=row["title"], by=by, run_id=run_id)

        await self.store.write(write)

    async def ready_count(self, *, team: str | None = None) -> int:
        row = await self.store.query_one(
            f"SELECT count(*) FROM cards c WHERE {_READY} AND {_TEAM}",
            (team, team))
        return int(row[0]) if row else 0

    async def proposed_by_run(self, run_id: str) -> int:
        row = await self.store.query_one(
            "SELECT count(*) FROM cards WHERE source_execution = ? AND created_by != 'user'", (run_id,))
        return int(row[0]) if row else 0

    async def count(self, column: CardColumn) -> int:
        row = await self.store.query_one(
            "SELECT count(*) FROM cards WHERE column_key = ? AND archived = 0", (column.value,))
        return int(row[0]) if row else 0


def _row(tx: Tx, card_id: int) -> Any:
    row = tx.execute("SELECT * FROM cards WHERE id = ?", (card_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no card {card_ref(card_id)} (see `podium board`)")
    return row


def _check_depends(tx: Tx, card_id: int | None, depends_on: list[int]) -> None:
    """Dependencies name cards that exist, and make no cycle."""
    for dep in depends_on:
        if dep == card_id:
            raise PodiumError(f"{card_ref(dep)} cannot depend on itself")
        if tx.execute("SELECT 1 FROM cards WHERE id = ?", (dep,)).fetchone() is None:
            raise NotFoundError(f"no card {card_ref(dep)} to depend on (see `podium board`)")
    if card_id is None:
        return  # a new card: nothing can depend on it yet
    graph = {int(r[0]): [int(d) for d in json.loads(r[1])]
             for r in tx.execute("SELECT id, depends_json FROM cards").fetchall()}
    graph[card_id] = list(depends_on)
    stack, seen = list(depends_on), set()
    while stack:
        node = stack.pop()
        if node == card_id:
            raise PodiumError(f"{card_ref(card_id)} would depend on itself through "
                              f"{', '.join(card_ref(d) for d in depends_on)}: a cycle")
        if node in seen:
            continue
        seen.add(node)
        stack.extend(graph.get(node, []))


def _card(row: Any, runs: list[str]) -> Card:
    return Card(
        id=row["id"], title=row["title"], details=row["details"], criteria=json.loads(row["criteria_json"]),
        priority=CardPriority.of_rank(row["priority"]), team=row["team"],
        column=CardColumn(row["column_key"]),
        depends_on=json.loads(row["depends_json"]), created_by=row["created_by"],
        source_execution=row["source_execution"], source_agent=row["source_agent"], reason=row["reason"],
        claimed_by=row["claimed_by"], result=row["result"], archived=bool(row["archived"]), runs=runs,
        created_at=row["created_at"], updated_at=row["updated_at"])


async def worker_alive(store: ProjectStore, card: Card) -> bool:
    """Whether the `podium work` process that claimed a card in progress still lives: on this
    host, whether its pid exists (a card just claimed has no run, hence no heartbeat, yet);
    elsewhere, the lease of the run it drives."""
    if not card.claimed_by:
        return False
    here = process_alive(card.claimed_by)
    if here is not None:
        return here
    beat = None
    if card.runs:
        row = await store.query_one("SELECT heartbeat_at FROM executions WHERE id = ?", (card.runs[-1],))
        beat = None if row is None else row[0]
    return lease_alive(card.claimed_by, beat)
