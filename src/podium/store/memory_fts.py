"""Keyword search over memories_fts (FTS5, porter stemming) with BM25 strengths.

Synchronous, on a raw connection: the memory repository runs these inside
its one database visit per search.

Query words are the text's distinct content words; each is quoted, and
words are letters and digits only (see text.words), so no user text can
be read as FTS5 syntax.
"""

from __future__ import annotations

from typing import Any

# Keyword search uses at most this many distinct words of the query.
MAX_TERMS = 16
# A word found in more memories than this says little about any of them
# (low IDF), yet ranking every memory that has it by BM25 costs a lookup
# each: it is left out of the keyword query. Scaled with the corpus.
COMMON_SHARE, COMMON_MIN, COMMON_MAX = 0.01, 100, 1000


def term_counts(conn: Any, terms: list[str]) -> dict[str, tuple[int, int]]:
    """Each word's memory count, capped: (count, cap). A common word costs little to count."""
    top = conn.execute("SELECT max(id) FROM memories").fetchone()[0] or 0
    cap = int(min(COMMON_MAX, max(COMMON_MIN, top * COMMON_SHARE)))
    return {t: (_capped_count(conn, t, cap), cap) for t in terms}


def keyword_search(
    conn: Any, terms: list[str], counts: dict[str, tuple[int, int]], scopes: list[str] | None,
    limit: int, *, want_all: bool,
) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """(ids ranked by BM25 over the query's informative words, ids containing every word).

    Common words are left out of the ranked OR query, and the every-word
    query runs only when its rarest word bounds the result.
    """
    informative = [t for t in terms if 0 < counts[t][0] < counts[t][1]]
    ranked: list[tuple[int, float]] = []
    if informative:
        ranked = _keyword_ids(conn, " OR ".join(_quote(t) for t in informative), scopes, limit)
    every: list[tuple[int, float]] = []
    if want_all and all(counts[t][0] > 0 for t in terms) and any(c < cap for c, cap in counts.values()):
        every = _keyword_ids(conn, " AND ".join(_quote(t) for t in terms), scopes, limit)
    return ranked, every


def _quote(term: str) -> str:
    # Words are letters and digits only (see text.words), so quoting makes
    # each one a plain FTS5 string: no operator or column filter can sneak in.
    return f'"{term}"'


def _capped_count(conn: Any, term: str, cap: int) -> int:
    cur = conn.execute(
        "SELECT count(*) FROM (SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? LIMIT ?)",
        (_quote(term), cap),
    )
    try:
        return int(cur.fetchone()[0])
    finally:
        cur.close()


def _keyword_ids(conn: Any, match: str, scopes: list[str] | None, limit: int) -> list[tuple[int, float]]:
    """(id, BM25 strength) best first; FTS5's bm25() is negative, better is lower."""
    sql = (
        "SELECT m.id, -bm25(memories_fts) FROM memories_fts JOIN memories m ON m.id = memories_fts.rowid "
        "WHERE memories_fts MATCH ?"
    )
    params: list[Any] = [match]
    if scopes is not None:
        sql += f" AND coalesce(m.agent, '') IN ({','.join('?' * len(scopes))})"
        params.extend(scopes)
    sql += " ORDER BY bm25(memories_fts) LIMIT ?"
    params.append(limit)
    cur = conn.execute(sql, params)
    try:
        return [(r[0], float(r[1])) for r in cur.fetchall()]
    finally:
        cur.close()
