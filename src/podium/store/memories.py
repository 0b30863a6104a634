"""The memories repository: rows, their vectors, their FTS entries, their events.

A memory row, its vector (in the active space's vec0 table) and its FTS
entry (a trigger on `memories`) are written with the `memory.stored` event
in one transaction; forgetting deletes all of them with its event in one
transaction too. Search candidates for every scope group come from one
database visit (`candidates`); ranking them is the memory service's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from podium import events
from podium.domain import MemoryItem, MemoryKind
from podium.errors import NotFoundError
from podium.store import memory_fts, vectors
from podium.store.project import ProjectStore, Tx
from podium.store.vectors import Space, scope_of

EVENT_TEXT_CHARS = 200
_CHUNK = 500  # ids per `IN (...)`: well under SQLite's parameter limit


@dataclass(frozen=True)
class NewMemory:
    """A memory to store; `text_hash` (see memory.text) is its identity within its scope."""

    kind: MemoryKind
    text: str
    agent: str | None
    execution_id: str | None
    subtask_id: str | None
    text_hash: str

    @property
    def key(self) -> tuple[str, str]:
        return self.text_hash, scope_of(self.agent)


@dataclass(frozen=True)
class Embedding:
    """Vectors for a batch of new memories, one row each, from `embedder`."""

    embedder: str
    matrix: np.ndarray


@dataclass(frozen=True)
class CandidateQuery:
    """What one search asks the file for.

    groups: scope lists (None: every scope), one candidate set each.
    terms: distinct content words; want_all also asks for memories holding all of them.
    vector/space: the query's embedding and the space it lives in (None: words only).
    """

    groups: Sequence[Sequence[str] | None]
    terms: Sequence[str]
    want_all: bool
    limit: int
    vector: np.ndarray | None = None
    space: Space | None = None


@dataclass
class GroupHits:
    """One group's raw candidates, each list best first."""

    nearest: list[tuple[int, float]]  # (id, cosine similarity) from the coarse scan + re-rank
    ranked: list[tuple[int, float]]  # (id, BM25 strength) over the informative words
    every: list[int]  # ids holding every query word


@dataclass
class Candidates:
    """A search's candidates. Their memories are read in the same visit but built only
    when asked for: a search sees hundreds of candidates and returns a handful."""

    groups: list[GroupHits]
    similarities: dict[int, float]  # exact similarity of every candidate that has a vector
    rows: dict[int, Any] = field(repr=False)  # every candidate still stored (sqlite rows)

    def __contains__(self, memory_id: int) -> bool:
        return memory_id in self.rows

    def source_execution(self, memory_id: int) -> str | None:
        return self.rows[memory_id]["source_execution"]

    def memory(self, memory_id: int) -> MemoryItem:
        return _item(self.rows[memory_id])


@dataclass
class SpaceStats:
    space: Space
    vectors: int


@dataclass
class MemoryStats:
    memories: int
    by_kind: dict[str, int]
    spaces: list[SpaceStats]


class MemoryRepository:
    def __init__(self, store: ProjectStore) -> None:
        self.store = store

    # ------------------------------------------------------------ writes

    async def add(self, memories: Sequence[NewMemory], embedding: Embedding | None) -> list[MemoryItem]:
        """Store new memories (and their vectors, when they fit the active space) with
        their events, in one transaction. Texts a concurrent writer stored first are skipped."""

        def write(tx: Tx) -> list[MemoryItem]:
            conn = tx.conn
            space = _space_for(conn, embedding)
            stored: list[MemoryItem] = []
            ids: list[int] = []
            rows: list[int] = []
            for i, m in enumerate(memories):
                item = MemoryItem(
                    kind=m.kind, text=m.text, agent=m.agent, source_execution=m.execution_id,
                    source_subtask=m.subtask_id,
                )
                cur = conn.execute(
                    "INSERT OR IGNORE INTO memories (kind, text, agent, source_execution, source_subtask,"
                    " text_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (item.kind.value, item.text, item.agent, item.source_execution,
                     item.source_subtask, m.text_hash, item.created_at),
                )
                inserted = cur.rowcount == 1
                new_id = cur.lastrowid
                cur.close()
                if not inserted:  # a concurrent writer stored the same text first
                    continue
                item.id = new_id
                stored.append(item)
                ids.append(new_id)
                rows.append(i)
            if space is not None and stored:
                assert embedding is not None
                vectors.insert_vectors(
                    conn, space, ids, [scope_of(item.agent) for item in stored], embedding.matrix[rows],
                )
            for item in stored:
                tx.emit(
                    events.MEMORY_STORED, item.source_execution, id=item.id, kind=item.kind.value,
                    agent=item.agent, source_execution=item.source_execution,
                    embedded=space is not None, text=item.text[:EVENT_TEXT_CHARS],
                )
            return stored

        return await self.store.write(write)

    async def forget(self, memory_id: int) -> MemoryItem:
        """Delete a memory, its vectors in every space and its FTS entry, with the event."""

        def delete(tx: Tx) -> MemoryItem:
            row = tx.conn.execute("SELECT * FROM memories WHERE id = ?", (memory_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no memory with id {memory_id} (see `podium memory list`)")
            item = _item(row)
            vectors.delete_vectors(tx.conn, memory_id)
            tx.execute("DELETE FROM memories WHERE id = ?", (memory_id,)).close()
            tx.emit(events.MEMORY_FORGOTTEN, None, id=memory_id, kind=item.kind.value, agent=item.agent)
            return item

        return await self.store.write(delete)

    async def add_vectors(self, space: Space, memories: Sequence[MemoryItem], matrix: np.ndarray) -> int:
        """Vectors for stored memories (a re-embed batch); memories forgotten meanwhile get none.
        Returns how many were written."""

        def insert(tx: Tx) -> int:
            alive = _alive(tx.conn, [m.id for m in memories if m.id is not None])
            keep = [i for i, m in enumerate(memories) if m.id in alive]
            if keep:
                vectors.insert_vectors(
                    tx.conn, space, [i for i in (memories[k].id for k in keep) if i is not None],
                    [scope_of(memories[k].agent) for k in keep], matrix[keep],
                )
            return len(keep)

        return await self.store.write(insert)

    async def switch_space(self, space: Space, *, keep_old: bool, embedded: int) -> list[str]:
        """Make `space` the active one (dropping the others unless `keep_old`) with the
        `memory.reembedded` event, in one transaction. Returns the dropped spaces' names."""

        def switch(tx: Tx) -> list[str]:
            vectors.activate(tx.conn, space)
            dropped = []
            if not keep_old:
                for other in vectors.list_spaces(tx.conn):
                    if other.id != space.id:
                        vectors.drop_space(tx.conn, other)
                        dropped.append(f"{other.embedder}/{other.dim}")
            tx.emit(
                events.MEMORY_REEMBEDDED, None, embedder=space.embedder, dim=space.dim, space=space.id,
                embedded=embedded, dropped_spaces=dropped,
            )
            return dropped

        return await self.store.write(switch)

    # ------------------------------------------------------------ reads

    async def existing(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (text hash, scope) pairs are stored already."""

        def look(conn: Any) -> set[tuple[str, str]]:
            found: set[tuple[str, str]] = set()
            for h, scope in keys:
                row = conn.execute(
                    "SELECT 1 FROM memories WHERE text_hash = ? AND coalesce(agent, '') = ?", (h, scope)
                ).fetchone()
                if row is not None:
                    found.add((h, scope))
            return found

        return await self.store.run(look)

    async def find(self, text_hash: str, scope: str) -> MemoryItem | None:
        """The memory with this text in this scope ('' for project-wide)."""
        row = await self.store.query_one(
            "SELECT * FROM memories WHERE text_hash = ? AND coalesce(agent, '') = ?", (text_hash, scope)
        )
        return None if row is None else _item(row)

    async def get_many(self, ids: Sequence[int]) -> list[MemoryItem]:
        """The memories with these ids that are still stored, by id."""
        rows = await self.store.run(lambda conn: _rows(conn, list(ids)))
        return [_item(rows[i]) for i in sorted(rows)]

    async def stats(self) -> MemoryStats:
        def gather(conn: Any) -> MemoryStats:
            return MemoryStats(
                memories=conn.execute("SELECT count(*) FROM memories").fetchone()[0],
                by_kind=dict(conn.execute("SELECT kind, count(*) FROM memories GROUP BY kind").fetchall()),
                spaces=[SpaceStats(s, vectors.count_vectors(conn, s)) for s in vectors.list_spaces(conn)],
            )

        return await self.store.run(gather)

    async def candidates(self, query: CandidateQuery) -> Candidates:
        """Every group's nearest vectors and keyword hits, their exact similarities and their
        memories, in one database visit."""
        return await self.store.run(lambda conn: _gather(conn, query))


    async def list(
        self, *, agent: str | None = None, kind: MemoryKind | None = None, limit: int | None = None
    ) -> list[MemoryItem]:
        """Newest first; `agent` filters to that agent's own scope.

        Last in the class: its name shadows `list` for the annotations below it.
        """
        sql = "SELECT * FROM memories WHERE 1 = 1"
        params: list[Any] = []
        if agent is not None:
            sql += " AND agent = ?"
            params.append(agent)
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind.value)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_item(r) for r in await self.store.query(sql, params)]

def _gather(conn: Any, q: CandidateQuery) -> Candidates:
    """`MemoryRepository.candidates` on a raw connection."""
    use_vectors = q.vector is not None and q.space is not None
    terms = list(q.terms)
    use_words = bool(terms)
    counts = memory_fts.term_counts(conn, terms) if use_words else {}
    groups: list[GroupHits] = []
    sims: dict[int, float] = {}
    for scopes in q.groups:
        hits = GroupHits([], [], [])
        if use_vectors:
            assert q.vector is not None and q.space is not None
            targets: list[str | None] = list(scopes) if scopes else [None]
            for scope in targets:
                hits.nearest.extend(
                    vectors.knn(conn, q.space, q.vector, scope=scope, candidates=q.limit)
                )
            sims.update(hits.nearest)
        if use_words:
            ranked, every = memory_fts.keyword_search(
                conn, terms, counts, None if scopes is None else list(scopes), q.limit, want_all=q.want_all
            )
            hits.ranked = ranked
            hits.every = [mid for mid, _ in every]
        groups.append(hits)
    ids = {mid for g in groups for mid, _ in (*g.nearest, *g.ranked)} | {m for g in groups for m in g.every}
    if use_vectors:
        assert q.vector is not None and q.space is not None
        sims.update(vectors.similarities(conn, q.space, q.vector, sorted(ids - sims.keys())))
    return Candidates(groups, sims, _rows(conn, sorted(ids)))


def _space_for(conn: Any, embedding: Embedding | None) -> Space | None:
    """The space new vectors go to: the active one (created for this embedder if there is
    none yet), or None when the batch does not fit it (another process switched spaces)."""
    if embedding is None or embedding.matrix.shape[1] == 0:
        return None
    dim = int(embedding.matrix.shape[1])
    space = vectors.active_space(conn) or vectors.ensure_space(conn, embedding.embedder, dim)
    if space.embedder != embedding.embedder or space.dim != dim:
        return None
    return space


def _alive(conn: Any, ids: list[int]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        cur = conn.execute(f"SELECT id FROM memories WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        found.update(r[0] for r in cur.fetchall())
        cur.close()
    return found


def _rows(conn: Any, ids: list[int]) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        cur = conn.execute(f"SELECT * FROM memories WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        out.update((r["id"], r) for r in cur.fetchall())
        cur.close()
    return out


def _item(row: Any) -> MemoryItem:
    return MemoryItem(
        id=row["id"], kind=MemoryKind(row["kind"]), text=row["text"], agent=row["agent"],
        source_execution=row["source_execution"], source_subtask=row["source_subtask"],
        created_at=row["created_at"],
    )
