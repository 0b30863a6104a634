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
import builtins
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from podium.domain import MemoryItem, MemoryKind, Recalled
from podium.errors import PodiumError
from podium.memory.config import configured_embedder, floor_override
from podium.memory.embedders import Embedder, EmbedderError, GatewayEmbedder, make_embedder
from podium.memory.ranking import Candidate, Fusion, Mode, fuse
from podium.memory.text import content_words, text_hash
from podium.store import ProjectStore
from podium.store.connection import SqliteError
from podium.store.memories import CandidateQuery, Candidates, Embedding, MemoryRepository, NewMemory
from podium.store.memory_fts import MAX_TERMS
from podium.store.vectors import PROJECT_SCOPE, Space, VectorIndex, scope_of

# Candidates per list before fusion: enough that the exact re-rank recovers
# what the 1-bit codes misorder, small enough that the scan stays cheap
# (sqlite-vec's top-k cost grows with k).
CANDIDATES = 64
# Short queries (a CLI search) may match on every word alone; long ones (a
# subtask description) never contain all their words in one memory.
ALL_TERMS_MAX = 6


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
        self.memories = MemoryRepository(store)
        self.spaces = VectorIndex(store)
        self._embedder = embedder
        self._gateway_factory = gateway_factory
        self._floor = floor
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------ embedder

    async def embedder(self) -> tuple[Embedder, Space | None]:
        """The embedder to use now, and the active space (None before the first memory)."""
        async with self._lock:
            space = await self.spaces.active_space()
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
        known = await self.memories.find(text_hash(text), scope_of(agent))
        if known is None:  # forgotten by another process since
            raise PodiumError("that fact was just forgotten elsewhere; add it again")
        return known, False

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
        pending: dict[tuple[str, str], NewMemory] = {}
        for kind, text, agent, execution_id, subtask_id in items:
            text = (text or "").strip()
            if not text:
                continue
            m = NewMemory(kind, text, agent, execution_id, subtask_id, text_hash(text))
            pending.setdefault(m.key, m)
        if not pending:
            return []
        # Skip what is already known before paying for embeddings.
        known = await self.memories.existing(list(pending))
        todo = [m for key, m in pending.items() if key not in known]
        if not todo:
            return []
        embedding: Embedding | None = None
        try:
            embedder, _ = await self.embedder()
            embedding = Embedding(embedder.name, await embedder.embed([m.text for m in todo]))
        except SpaceMismatchError:
            raise
        except PodiumError:
            # Model down or misconfigured: keep the text (keyword recall still
            # works; the event says embedded=false); reembed fills the vector in.
            embedding = None
        return await self.memories.add(todo, embedding)

    async def forget(self, memory_id: int) -> MemoryItem:
        return await self.memories.forget(memory_id)

    # ------------------------------------------------------------ reads

    async def list(
        self, *, agent: str | None = None, kind: MemoryKind | None = None, limit: int | None = None
    ) -> builtins.list[MemoryItem]:
        """Memories newest first; `agent` filters to that agent's own scope."""
        return await self.memories.list(agent=agent, kind=kind, limit=limit)

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
    ) -> builtins.list[Recalled]:
        """Top-k of the agent's own memories, then top-k project-wide, for a subtask.

        Memories written by the same run are left out: its outputs already
        reach the subtask as handoffs and recent messages.
        """
        own, project = await self._search(
            text, [[agent], [PROJECT_SCOPE]], k=k, mode=Mode.HYBRID, exclude_execution=execution_id
        )
        return own.hits + project.hits

    async def _search(
        self, text: str, groups: builtins.list[builtins.list[str] | None], *, k: int, mode: Mode,
        exclude_execution: str | None, fusion: Fusion = Fusion.RELATIVE,
    ) -> builtins.list[SearchResult]:
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
            space, floor = await self.spaces.active_space(), 1.0
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
        use_vectors = query_vec is not None and space is not None
        query = CandidateQuery(
            groups=groups,
            terms=terms if mode is not Mode.VECTOR else [],
            want_all=mode is not Mode.VECTOR and 0 < len(terms) <= ALL_TERMS_MAX,
            limit=max(CANDIDATES, 4 * k),
            vector=query_vec if use_vectors else None,
            space=space if use_vectors else None,
        )
        try:
            found = await self.memories.candidates(query)
        except SqliteError as exc:
            raise PodiumError(f"memory search failed: {exc}") from None
        results = []
        for group in _candidate_sets(found):
            group = {
                mid: c for mid, c in group.items()
                if mid in found and (exclude_execution is None
                                     or found.source_execution(mid) != exclude_execution)
            }
            ranked = fuse(group, mode=mode, floor=floor, k=k, fusion=fusion)
            results.append(SearchResult([_recalled(found.memory(c.id), c) for c in ranked], space, warning))
        return results

    async def stats(self) -> dict[str, Any]:
        stats = await self.memories.stats()
        return {
            "memories": stats.memories,
            "by_kind": stats.by_kind,
            "spaces": [
                {"id": s.space.id, "embedder": s.space.embedder, "dim": s.space.dim,
                 "active": s.space.active, "vectors": s.vectors}
                for s in stats.spaces
            ],
        }

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
        dim: int | None = await embedder.probe() if isinstance(embedder, GatewayEmbedder) else embedder.dim
        assert dim is not None

        space = await self.spaces.ensure_space(embedder.name, dim, activate_if_first=False)
        todo = await self.spaces.missing_ids(space)
        total = len(todo)
        done = 0
        for start in range(0, total, batch):
            items = await self.memories.get_many(todo[start : start + batch])
            if not items:
                continue
            matrix = await embedder.embed([m.text for m in items])
            if matrix.shape[1] != dim:
                raise EmbedderError(f"{embedder.name} returned dimension {matrix.shape[1]}, expected {dim}")
            await self.memories.add_vectors(space, items, matrix)
            done += len(items)
            if progress is not None:
                progress(done, total)

        # Memories added to the old space during the copy are caught up on the next reembed.
        dropped = await self.memories.switch_space(space, keep_old=keep_old, embedded=done)
        self._embedder = embedder
        return ReembedReport(embedder.name, dim, space.id, done, total, dropped)


# ----------------------------------------------------------------- helpers


def _fits(embedder: Embedder, space: Space) -> bool:
    return embedder.name == space.embedder and embedder.dim in (None, space.dim)


def _candidate_sets(found: Candidates) -> builtins.list[dict[int, Candidate]]:
    """One candidate set per group: vector hits, then keyword hits, each with every
    similarity the store knows (a keyword-only hit gets its exact one too)."""
    sets = []
    for hits in found.groups:
        group: dict[int, Candidate] = {}
        for mid, sim in hits.nearest:
            group.setdefault(mid, Candidate(mid)).similarity = sim
        for rank, (mid, strength) in enumerate(hits.ranked, start=1):
            c = group.setdefault(mid, Candidate(mid))
            c.keyword_rank, c.keyword_score = rank, strength
        for mid in hits.every:
            group.setdefault(mid, Candidate(mid)).all_terms = True
        for mid, c in group.items():
            if c.similarity is None and mid in found.similarities:
                c.similarity = found.similarities[mid]
        sets.append(group)
    return sets


def _recalled(item: MemoryItem, c: Candidate) -> Recalled:
    assert item.id is not None
    return Recalled(
        id=item.id, text=item.text, kind=item.kind, agent=item.agent,
        score=round(c.score, 4), similarity=None if c.similarity is None else round(c.similarity, 4),
        keyword_rank=c.keyword_rank, source_execution=item.source_execution,
        source_subtask=item.source_subtask, created_at=item.created_at,
    )
