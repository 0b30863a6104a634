"""Sources a run read and the claims checked against them, as the project file holds them.

A source is numbered per run (S1, S2, ...) and recorded per subtask: the same URL read twice
by one subtask keeps its number (a search hit later fetched becomes a page: its text, hash
and time are the page's). Each record is written with its `source.recorded` event in one
transaction; a run this file does not hold records nothing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from podium import events as ev
from podium.citations import ClaimCheck, ClaimVerdict, Source, SourceKind
from podium.store.project import ProjectStore, Tx

TEXT_LIMIT = 100_000  # characters of a source's text kept in the file (its hash covers all it read)


@dataclass(frozen=True)
class NewSource:
    """What a tool read: a search hit (title and snippet) or a fetched page (its text)."""

    kind: SourceKind
    url: str
    title: str
    text: str
    query: str | None = None
    provider: str | None = None


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="replace")).hexdigest()


class SourceRepository:
    def __init__(self, store: ProjectStore) -> None:
        self.store = store

    async def record(self, execution_id: str | None, *, subtask_id: str | None, agent: str,
                     items: Sequence[NewSource]) -> list[Source]:
        """Record what a subtask read; returns the sources as stored, in the order given
        ([] when the file holds no such run)."""
        if execution_id is None or not items or self.store.readonly:
            return []

        def write(tx: Tx) -> list[Source]:
            if tx.execute("SELECT 1 FROM executions WHERE id = ?", (execution_id,)).fetchone() is None:
                return []
            return [_upsert(tx, execution_id, subtask_id, agent, item) for item in items]

        return await self.store.write(write)

    async def for_run(self, execution_id: str) -> list[Source]:
        """Every source the run recorded, by number."""
        if not await self.store.has_table("sources"):  # an archive from before v7
            return []
        rows = await self.store.query("SELECT * FROM sources WHERE execution_id = ? ORDER BY number",
                                      (execution_id,))
        return [_source(r) for r in rows]

    async def record_checks(self, execution_id: str | None, *, subtask_id: str | None, agent: str,
                            checks: Sequence[ClaimCheck]) -> None:
        """A `check_claims` call's verdicts and its `claims.checked` event, in one transaction."""
        if execution_id is None or not checks or self.store.readonly:
            return

        def write(tx: Tx) -> None:
            if tx.execute("SELECT 1 FROM executions WHERE id = ?", (execution_id,)).fetchone() is None:
                return
            now = time.time()
            for c in checks:
                tx.execute("INSERT INTO claim_checks (execution_id, subtask_id, agent, source, claim, quote,"
                           " verdict, evidence, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (execution_id, subtask_id, agent, c.source, c.claim, c.quote, c.verdict.value,
                            c.evidence, now)).close()
            tx.emit(ev.CLAIMS_CHECKED, execution_id, subtask_id=subtask_id, agent=agent,
                    checks=[{"source": c.source, "claim": c.claim[:300], "verdict": c.verdict.value,
                             "evidence": c.evidence[:300]} for c in checks])

        await self.store.write(write)

    async def checks(self, execution_id: str) -> list[ClaimCheck]:
        """Every claim the run's fact-checkers checked, oldest first."""
        if not await self.store.has_table("claim_checks"):  # an archive from before v7
            return []
        rows = await self.store.query("SELECT * FROM claim_checks WHERE execution_id = ? ORDER BY id",
                                      (execution_id,))
        return [ClaimCheck(source=r["source"], claim=r["claim"], quote=r["quote"],
                           verdict=ClaimVerdict(r["verdict"]), evidence=r["evidence"],
                           subtask_id=r["subtask_id"], agent=r["agent"]) for r in rows]


def _upsert(tx: Tx, run_id: str, subtask_id: str | None, agent: str, item: NewSource) -> Source:
    now = time.time()
    digest, chars = text_hash(item.text), len(item.text)
    kept, truncated = item.text[:TEXT_LIMIT], len(item.text) > TEXT_LIMIT
    cur = tx.execute("SELECT * FROM sources WHERE execution_id = ? AND coalesce(subtask_id, '') = ?"
                     " AND url = ?", (run_id, subtask_id or "", item.url))
    row = cur.fetchone()
    cur.close()
    if row is not None and item.kind is SourceKind.SEARCH:
        return _source(row)  # found again by a search: what was read before stays the record
    if row is not None:
        number = int(row["number"])
        title = item.title or row["title"]
        tx.execute("UPDATE sources SET kind = ?, title = ?, fetched_at = ?, sha256 = ?, chars = ?, text = ?,"
                   " truncated = ?, agent = ? WHERE execution_id = ? AND number = ?",
                   (item.kind.value, title, now, digest, chars, kept, int(truncated), agent, run_id,
                    number)).close()
    else:
        number = int(tx.execute("SELECT coalesce(max(number), 0) + 1 FROM sources WHERE execution_id = ?",
                                (run_id,)).fetchone()[0])
        title = item.title
        tx.execute("INSERT INTO sources (execution_id, number, subtask_id, agent, kind, url, title, query,"
                   " provider, fetched_at, sha256, chars, text, truncated)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (run_id, number, subtask_id, agent, item.kind.value, item.url, title, item.query,
                    item.provider, now, digest, chars, kept, int(truncated))).close()
    tx.emit(ev.SOURCE_RECORDED, run_id, subtask_id=subtask_id, agent=agent, id=f"S{number}",
            kind=item.kind.value, url=item.url, title=title[:200], sha256=digest, chars=chars,
            updated=row is not None)
    return Source(execution_id=run_id, number=number, subtask_id=subtask_id, agent=agent, kind=item.kind,
                  url=item.url, title=title, query=item.query if row is None else row["query"],
                  provider=item.provider if row is None else row["provider"], fetched_at=now, sha256=digest,
                  chars=chars, text=kept, truncated=truncated)


def _source(row: Any) -> Source:
    return Source(execution_id=row["execution_id"], number=row["number"], subtask_id=row["subtask_id"],
                  agent=row["agent"], kind=SourceKind(row["kind"]), url=row["url"], title=row["title"],
                  query=row["query"], provider=row["provider"], fetched_at=row["fetched_at"],
                  sha256=row["sha256"], chars=row["chars"], text=row["text"],
                  truncated=bool(row["truncated"]))
