"""MemoryService: what agents remember across runs, and recall by meaning and words.

The orchestrator calls `recall_for` before each subtask and `remember_*`
after; the CLI calls `add_fact`, `search`, `list`, `forget` and `reembed`.
Every write stores the memory, its vector and its `memory.stored` event in
one transaction. Embedding happens before that transaction (it may be a
network call); if the embedder fails, the text is still stored and
searchable by keywords, and `podium memory reembed` fills the vector in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from podium import events
from podium.domain import MemoryItem, MemoryKind, Recalled
from podium.errors import NotFoundError, PodiumError
from podium.memory import vectors
from podium.memory.config import configured_embedder, floor_override
from podium.memory.embedders import Embedder, EmbedderError, GatewayEmbedder, make_embedder
from podium.memory.keywords import MAX_TERMS, keyword_search, term_counts
from podium.memory.ranking import Candidate, Fusion, Mode, fuse
from podium.memory.text import content_words, text_hash
from podium.memory.vectors import PROJECT_SCOPE, Space, scope_of
from podium.store import ProjectStore, Tx
from podium.store.connection import SqliteError

# Candidates per list before fusion: enough that the exact re-rank recovers
# what the 1-bit codes misorder, small enough that the scan stays cheap
# (sqlite-vec's top-k cost grows with k).
CANDIDATES = 64
# Short queries (a CLI search) may match on every word alone; long ones (a
# subtask description) never contain all their words in one memory.
ALL_TERMS_MAX = 6
EVENT_TEXT_CHARS = 200


def default_gateway_factory() -> Any:
    try:
        from podium.llm.gateway import Gateway
    except ImportError as exc:
        raise PodiumError(f"model embedders need the model gateway, which failed to load: {exc}") from None
    return Gateway()


class SpaceMismatchError(PodiumError):
    """An explicit embedder differs from the file's active space: spaces are never mixed."""


@dataclass
class SearchResult:
    hits: list[Recalled]
    space: Space | None
    warning: str | None = None


@dataclass
class ReembedReport:
    embedder: str
    dim: int
    space_id: int
    embedded: int
    total: int
    dropped: list[str] = field(default_factory=list)


@dataclass
class _Pending:
    kind: MemoryKind
    text: str
    agent: str | None
    execution_id: str | None
    subtask_id: str | None
    hash: str


class MemoryService:
    """Long-term memory of one project file.

    `embedder=None` uses the embedder of the file's active space (or the
    configured default for a file without memories). An explicit embedder
    that differs from the active space is refused: spaces are never mixed.
    """

    def __init__(
        self, store: ProjectStore, embedder: Embedder | None = None, *,
        gateway_factory: Callable[[], Any] | None = default_gateway_factory,
        floor: float | None = None,
    ) -> None:
        self.store = store
        self._embedder = embedder
        self._gateway_factory = gateway_factory
        self._floor = floor
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------ embedder

    async def embedder(self) -> tuple[Embedder, Space | None]:
        """The embedder to use now, and the active space (None before the first memory)."""
        async with self._lock:
            space = await self.store.run(vectors.active_space)
            if self._embedder is None:
                try:
                    if space is not None:
                        self._embedder = make_embedder(space.embedder, self._gateway_factory, dim=space.dim)
                    else:
                        name, _ = configured_embedder(self.store.path)
                        self._embedder = make_embedder(name, self._gateway_factory)
                except EmbedderError:
                    raise
                except PodiumError as exc:
                    raise EmbedderError(str(exc)) from None
            elif space is not None and not _fits(self._embedder, space):
                raise SpaceMismatchError(
                    f"this project's memory is embedded with {space.embedder} (dim {space.dim}), "
                    f"not {self._embedder.name}; run `podium memory reembed --embedder "
                    f"{self._embedder.name}` to switch"
                )
            return self._embedder, space

    def floor(self, embedder: Embedder) -> float:
        if self._floor is not None:
            return self._floor
        override = floor_override()
        return embedder.floor if override is None else override

    # ------------------------------------------------------------ writes

    async def add_fact(
        self, text: str, *, agent: str | None = None, execution_id: str | None = None
    ) -> tuple[MemoryItem, bool]:
        """A fact a human gives the team. Returns the memory and whether it is new."""
        text = text.strip()
        if not text:
            raise PodiumError("a fact needs some text")
        stored = await self._remember([(MemoryKind.FACT, text, agent, execution_id, None)])
        if stored:
            return stored[0], True
        row = await self.store.query_one(
            "SELECT * FROM memories WHERE text_hash = ? AND coalesce(agent, '') = ?",
            (text_hash(text), scope_of(agent)),
        )
        return _item(row), False

    async def remember_output(
        self, *, agent: str, text: str, execution_id: str, subtask_id: str | None = None
    ) -> None:
        """A completed subtask's output, in the agent's scope.

        Without a subtask it is the run's final result: project-wide.
        """
        if subtask_id is None:
            await self.remember_result(text=text, execution_id=execution_id)
            return
        await self._remember([(MemoryKind.OUTPUT, text, agent, execution_id, subtask_id)])

    async def remember_result(self, *, text: str, execution_id: str) -> None:
        """The run's accepted final result, project-wide."""
        await self._remember([(MemoryKind.RESULT, text, None, execution_id, None)])

    async def remember_lessons(self, *, lessons: list[tuple[str | None, str]], execution_id: str) -> None:
        """Lessons the leader drew at the end of a run: (agent or None for project, text)."""
        await self._remember(
            [(MemoryKind.LESSON, text, agent, execution_id, None) for agent, text in lessons]
        )

    async def _remember(
        self, items: list[tuple[MemoryKind, str, str | None, str | None, str | None]]
    ) -> list[MemoryItem]:
        pending: dict[tuple[str, str], _Pending] = {}
        for kind, text, agent, execution_id, subtask_id in items:
            text = (text or "").strip()
            if not text:
                continue
            p = _Pending(kind, text, agent, execution_id, subtask_id, text_hash(text))
            pending.setdefault((p.hash, scope_of(agent)), p)
        if not pending:
            return []
        # Skip what is already known before paying for embeddings.
        known = await self.store.run(lambda conn: _existing(conn, list(pending)))
        todo = [p for key, p in pending.items() if key not in known]
        if not todo:
            return []
        matrix: np.ndarray | None = None
        embedder: Embedder | None = None
        try:
            embedder, _ = await self.embedder()
            matrix = await embedder.embed([p.text for p in todo])
        except SpaceMismatchError:
            raise
        except PodiumError:
            # Model down or misconfigured: keep the text (keyword recall still
            # works; the event says embedded=false); reembed fills the vector in.
            matrix = None

        def write(tx: Tx) -> list[MemoryItem]:
            conn = tx.conn
            space = None
            if embedder is not None and matrix is not None and matrix.shape[1] > 0:
                space = vectors.active_space(conn) or vectors.ensure_space(
                    conn, embedder.name, int(matrix.shape[1])
                )
                if space.embedder != embedder.name or space.dim != matrix.shape[1]:
                    # Another process switched the space since we looked: no vector now.
                    space = None
            stored: list[MemoryItem] = []
            ids: list[int] = []
            rows: list[int] = []
            for i, p in enumerate(todo):
                item = MemoryItem(
                    kind=p.kind, text=p.text, agent=p.agent, source_execution=p.execution_id,
                    source_subtask=p.subtask_id,
                )
                cur = conn.execute(
                    "INSERT OR IGNORE INTO memories (kind, text, agent, source_execution, source_subtask,"
                    " text_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (item.kind.value, item.text, item.agent, item.source_execution,
                     item.source_subtask, p.hash, item.created_at),
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
            if space is not None and ids:
                assert matrix is not None
                vectors.insert_vectors(
                    conn, space, ids, [scope_of(todo[i].agent) for i in rows], matrix[rows]
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

    # ------------------------------------------------------------ reads

    async def list(
        self, *, agent: str | None = None, kind: MemoryKind | None = None, limit: int | None = None
    ) -> list[MemoryItem]:
        """Memories newest first; `agent` filters to that agent's own scope."""
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

    async def search(
        self, text: str, *, agent: str | None = None, k: int = 5, mode: Mode = Mode.HYBRID,
        exclude_execution: str | None = None, fusion: Fusion = Fusion.RELATIVE,
    ) -> SearchResult:
        """Ranked memories for `text`. With `agent`: that agent's and project-wide ones
        (what the agent would recall); without: every scope."""
        scopes = None if agent is None else [agent, PROJECT_SCOPE]
        (result,) = await self._search(
            text, [scopes], k=k, mode=mode, exclude_execution=exclude_execution, fusion=fusion
        )
        return result

    async def recall_for(
        self, *, agent: str, text: str, execution_id: str | None, k: int = 3
    ) -> list[Recalled]:
        """Top-k of the agent's own memories, then top-k project-wide, for a subtask.

        Memories written by the same run are left out: its outputs already
        reach the subtask as handoffs and recent messages.
        """
        own, project = await self._search(
            text, [[agent], [PROJECT_SCOPE]], k=k, mode=Mode.HYBRID, exclude_execution=execution_id
        )
        return own.hits + project.hits

    async def _search(
        self, text: str, groups: list[list[str] | None], *, k: int, mode: Mode,
        exclude_execution: str | None, fusion: Fusion = Fusion.RELATIVE,
    ) -> list[SearchResult]:
        """One ranking per group of scopes (None: every scope), in one database visit."""
        mode, fusion = Mode(mode), Fusion(fusion)  # accept the plain strings too
        if k < 1 or not text.strip():
            return [SearchResult([], None) for _ in groups]
        warning = None
        query_vec: np.ndarray | None = None
        try:
            embedder, space = await self.embedder()
            floor = self.floor(embedder)
        except EmbedderError as exc:
            # E.g. an archive embedded by a model this machine cannot reach.
            space, floor = await self.store.run(vectors.active_space), 1.0
            warning = f"no embedder ({exc}); keyword search only"
            mode = Mode.KEYWORD
        if space is not None and mode is not Mode.KEYWORD:
            try:
                query_vec = (await embedder.embed([text]))[0]
            except PodiumError as exc:
                warning = f"embedder {embedder.name} unavailable ({exc}); keyword search only"
                mode = Mode.KEYWORD
        elif space is None and mode is Mode.VECTOR:
            warning = "no memory is embedded yet"
        terms = list(dict.fromkeys(content_words(text)))[:MAX_TERMS]
        want_all = mode is not Mode.VECTOR and 0 < len(terms) <= ALL_TERMS_MAX
        fetch = max(CANDIDATES, 4 * k)
        use_vectors = query_vec is not None and space is not None
        use_words = bool(terms) and mode is not Mode.VECTOR

        def gather(conn: Any) -> tuple[list[dict[int, Candidate]], dict[int, Any]]:
            counts = term_counts(conn, terms) if use_words else {}
            per_group: list[dict[int, Candidate]] = []
            sims: dict[int, float] = {}
            for scopes in groups:
                found: dict[int, Candidate] = {}
                if use_vectors:
                    assert query_vec is not None and space is not None
                    for scope in scopes or [None]:
                        for mid, sim in vectors.knn(conn, space, query_vec, scope=scope, candidates=fetch):
                            found.setdefault(mid, Candidate(mid)).similarity = sim
                            sims[mid] = sim
                if use_words:
                    ranked, every = keyword_search(conn, terms, counts, scopes, fetch, want_all=want_all)
                    for rank, (mid, strength) in enumerate(ranked, start=1):
                        c = found.setdefault(mid, Candidate(mid))
                        c.keyword_rank, c.keyword_score = rank, strength
                    for mid, _ in every:
                        found.setdefault(mid, Candidate(mid)).all_terms = True
                per_group.append(found)
            if use_vectors:
                assert query_vec is not None and space is not None
                unknown = {mid for found in per_group for mid, c in found.items() if c.similarity is None}
                sims.update(vectors.similarities(conn, space, query_vec, sorted(unknown - sims.keys())))
                for found in per_group:
                    for mid, c in found.items():
                        if c.similarity is None and mid in sims:
                            c.similarity = sims[mid]
            rows = _rows(conn, sorted({mid for found in per_group for mid in found}))
            return per_group, rows

        try:
            per_group, rows = await self.store.run(gather)
        except SqliteError as exc:
            raise PodiumError(f"memory search failed: {exc}") from None
        results = []
        for found in per_group:
            found = {
                mid: c for mid, c in found.items()
                if mid in rows and (exclude_execution is None
                                    or rows[mid]["source_execution"] != exclude_execution)
            }
            ranked = fuse(found, mode=mode, floor=floor, k=k, fusion=fusion)
            results.append(SearchResult([_recalled(rows[c.id], c) for c in ranked], space, warning))
        return results

    async def stats(self) -> dict[str, Any]:
        def gather(conn: Any) -> dict[str, Any]:
            spaces = vectors.list_spaces(conn)
            return {
                "memories": conn.execute("SELECT count(*) FROM memories").fetchone()[0],
                "by_kind": dict(conn.execute("SELECT kind, count(*) FROM memories GROUP BY kind").fetchall()),
                "spaces": [
                    {"id": s.id, "embedder": s.embedder, "dim": s.dim, "active": s.active,
                     "vectors": vectors.count_vectors(conn, s)}
                    for s in spaces
                ],
            }

        return await self.store.run(gather)

    # ------------------------------------------------------------ re-embed

    async def reembed(
        self, embedder: Embedder, *, keep_old: bool = False, batch: int = 256,
        progress: Callable[[int, int], None] | None = None,
    ) -> ReembedReport:
        """Embed every memory into `embedder`'s space, make it active, drop the others.

        Vectors go into the new space batch by batch while the old one keeps
        serving recall; the switch itself is one transaction with its event.
        Re-running with the same embedder fills only missing vectors.
        """
        if isinstance(embedder, GatewayEmbedder):
            dim = await embedder.probe()
        else:
            dim = embedder.dim
        assert dim is not None

        space = await self.store.write(
            lambda tx: vectors.ensure_space(tx.conn, embedder.name, dim, activate_if_first=False)
        )
        todo: list[int] = await self.store.run(lambda conn: vectors.missing_ids(conn, space))
        total = len(todo)
        done = 0
        for start in range(0, total, batch):
            ids = todo[start : start + batch]
            rows = await self.store.query(
                f"SELECT id, text, agent FROM memories WHERE id IN ({','.join('?' * len(ids))})", ids
            )
            if not rows:
                continue
            matrix = await embedder.embed([r["text"] for r in rows])
            if matrix.shape[1] != dim:
                raise EmbedderError(f"{embedder.name} returned dimension {matrix.shape[1]}, expected {dim}")

            def insert(tx: Tx, rows: list[Any] = rows, matrix: np.ndarray = matrix) -> None:
                # Memories forgotten meanwhile must not get a vector back.
                alive = {r[0] for r in tx.conn.execute(
                    f"SELECT id FROM memories WHERE id IN ({','.join('?' * len(rows))})",
                    [r["id"] for r in rows],
                ).fetchall()}
                keep = [i for i, r in enumerate(rows) if r["id"] in alive]
                if keep:
                    vectors.insert_vectors(
                        tx.conn, space, [rows[i]["id"] for i in keep],
                        [scope_of(rows[i]["agent"]) for i in keep], matrix[keep],
                    )

            await self.store.write(insert)
            done += len(rows)
            if progress is not None:
                progress(done, total)

        def switch(tx: Tx) -> list[str]:
            # Memories added to the old space during the copy are caught up on the next reembed.
            vectors.activate(tx.conn, space)
            dropped = []
            if not keep_old:
                for other in vectors.list_spaces(tx.conn):
                    if other.id != space.id:
                        vectors.drop_space(tx.conn, other)
                        dropped.append(f"{other.embedder}/{other.dim}")
            tx.emit(
                events.MEMORY_REEMBEDDED, None, embedder=embedder.name, dim=dim, space=space.id,
                embedded=done, dropped_spaces=dropped,
            )
            return dropped

        dropped = await self.store.write(switch)
        self._embedder = embedder
        return ReembedReport(embedder.name, dim, space.id, done, total, dropped)


# ----------------------------------------------------------------- helpers


def _fits(embedder: Embedder, space: Space) -> bool:
    return embedder.name == space.embedder and embedder.dim in (None, space.dim)


def _existing(conn: Any, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for h, scope in keys:
        row = conn.execute(
            "SELECT 1 FROM memories WHERE text_hash = ? AND coalesce(agent, '') = ?", (h, scope)
        ).fetchone()
        if row is not None:
            found.add((h, scope))
    return found


def _rows(conn: Any, ids: list[int]) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
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


def _recalled(row: Any, c: Candidate) -> Recalled:
    return Recalled(
        id=row["id"], text=row["text"], kind=MemoryKind(row["kind"]), agent=row["agent"],
        score=round(c.score, 4), similarity=None if c.similarity is None else round(c.similarity, 4),
        keyword_rank=c.keyword_rank, source_execution=row["source_execution"],
        source_subtask=row["source_subtask"], created_at=row["created_at"],
    )
