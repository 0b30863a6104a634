"""Vector spaces on sqlite-vec: a coarse binary index for speed, floats for exactness.

sqlite-vec's KNN is brute force. Here a float scan costs about 70 ms at
100,000 vectors and int8 is no faster, but a bit scan over 1,024-bit codes
costs under 10 ms. So each space's vec0 table holds:

- `coarse bit[B]`: a SimHash code, sign(R·x) for a fixed random Gaussian R.
  Hamming distance between codes tracks the angle between the vectors
  (plain sign(x) does not: hashed embeddings are sparse and their zeros
  all quantise alike). B is recorded with the space.
- `+full`: the float32 vector itself (auxiliary column, read only for the
  few candidates), used to re-rank them by exact cosine similarity.
- `scope`: a partition key (agent name, '' for project-wide), so recall for
  one agent scans only that agent's vectors.

The functions here are synchronous and take a raw connection: they run on
the store's database thread inside `store.run` / `store.write` (the memory
repository calls them inside its own transactions). `VectorIndex` is the
async face the memory service uses for spaces themselves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from podium.store.project import ProjectStore

DEFAULT_COARSE_BITS = 1024
PROJECT_SCOPE = ""


def scope_of(agent: str | None) -> str:
    return PROJECT_SCOPE if agent is None else agent


@dataclass(frozen=True)
class Space:
    id: int
    embedder: str
    dim: int
    coarse_bits: int
    seed: int
    active: bool

    @property
    def table(self) -> str:
        # id is an integer from our own table: safe to format into SQL.
        return f"memory_vec_{int(self.id)}"

    def coarse(self, vectors: np.ndarray) -> np.ndarray:
        """Packed SimHash codes, one row of coarse_bits/8 bytes per vector."""
        projection = _projection(self.coarse_bits, self.dim, self.seed)
        return np.packbits(vectors @ projection.T > 0, axis=1)


@lru_cache(maxsize=8)
def _projection(bits: int, dim: int, seed: int) -> np.ndarray:
    # The legacy RandomState stream is frozen by NumPy's compatibility policy,
    # so an archive's codes can be reproduced by any later NumPy.
    rng = np.random.RandomState(seed)
    return rng.standard_normal((bits, dim)).astype(np.float32)


def _space(row: Any) -> Space:
    return Space(
        id=row["id"], embedder=row["embedder"], dim=row["dim"], coarse_bits=row["coarse_bits"],
        seed=row["seed"], active=bool(row["active"]),
    )


def list_spaces(conn: Any) -> list[Space]:
    return [_space(r) for r in conn.execute("SELECT * FROM memory_spaces ORDER BY id").fetchall()]


def active_space(conn: Any) -> Space | None:
    row = conn.execute("SELECT * FROM memory_spaces WHERE active = 1").fetchone()
    return None if row is None else _space(row)


def find_space(conn: Any, embedder: str, dim: int) -> Space | None:
    row = conn.execute(
        "SELECT * FROM memory_spaces WHERE embedder = ? AND dim = ?", (embedder, dim)
    ).fetchone()
    return None if row is None else _space(row)


def ensure_space(
    conn: Any, embedder: str, dim: int, *, activate_if_first: bool = True,
    coarse_bits: int = DEFAULT_COARSE_BITS,
) -> Space:
    """The space for (embedder, dim), created with its vec0 table if new. Call inside a write."""
    existing = find_space(conn, embedder, dim)
    if existing is not None:
        return existing
    has_active = conn.execute("SELECT 1 FROM memory_spaces WHERE active = 1").fetchone() is not None
    active = 1 if activate_if_first and not has_active else 0
    cur = conn.execute(
        "INSERT INTO memory_spaces (embedder, dim, coarse_bits, seed, active, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (embedder, dim, coarse_bits, 0, active, time.time()),
    )
    space_id = cur.lastrowid
    cur.close()
    space = Space(space_id, embedder, dim, coarse_bits, 0, bool(active))
    conn.execute(
        f"CREATE VIRTUAL TABLE {space.table} USING vec0("
        "memory_id INTEGER PRIMARY KEY, scope TEXT PARTITION KEY, "
        f"coarse bit[{coarse_bits}], +full BLOB)"
    ).close()
    return space


def activate(conn: Any, space: Space) -> None:
    conn.execute("UPDATE memory_spaces SET active = (id = ?)", (space.id,)).close()


def drop_space(conn: Any, space: Space) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {space.table}").close()
    conn.execute("DELETE FROM memory_spaces WHERE id = ?", (space.id,)).close()


def insert_vectors(conn: Any, space: Space, ids: list[int], scopes: list[str], vectors: np.ndarray) -> None:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.shape[1:] != (space.dim,):
        raise ValueError(f"vectors of shape {vectors.shape} do not fit space {space.embedder}/{space.dim}")
    codes = space.coarse(vectors)
    conn.executemany(
        f"INSERT OR REPLACE INTO {space.table} (memory_id, scope, coarse, full)"
        " VALUES (?, ?, vec_bit(?), ?)",
        [
            (mid, scope, codes[i].tobytes(), vectors[i].tobytes())
            for i, (mid, scope) in enumerate(zip(ids, scopes, strict=True))
        ],
    ).close()


def delete_vectors(conn: Any, memory_id: int) -> None:
    for space in list_spaces(conn):
        conn.execute(f"DELETE FROM {space.table} WHERE memory_id = ?", (memory_id,)).close()


def missing_ids(conn: Any, space: Space) -> list[int]:
    """Memories without a vector in `space` (new space, or an embedder that was down)."""
    rows = conn.execute(
        f"SELECT id FROM memories WHERE id NOT IN (SELECT memory_id FROM {space.table}) ORDER BY id"
    ).fetchall()
    return [r[0] for r in rows]


def count_vectors(conn: Any, space: Space) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {space.table}").fetchone()[0])


def knn(
    conn: Any, space: Space, query: np.ndarray, *, scope: str | None, candidates: int
) -> list[tuple[int, float]]:
    """(memory_id, cosine similarity) of the best candidates, best first.

    The coarse scan picks `candidates` by Hamming distance (inside one
    partition when `scope` is given); their float vectors then give the
    exact similarity and the final order.
    """
    code = space.coarse(query[None, :])[0].tobytes()
    sql = (
        f"SELECT memory_id, full FROM {space.table} "
        "WHERE coarse MATCH vec_bit(?) AND k = ?"
    )
    params: list[Any] = [code, min(candidates, 4096)]
    if scope is not None:
        sql += " AND scope = ?"
        params.append(scope)
    cur = conn.execute(sql, params)
    rows = cur.fetchall()
    cur.close()
    return _rerank(query, rows)


def similarities(conn: Any, space: Space, query: np.ndarray, ids: list[int]) -> dict[int, float]:
    """Exact cosine similarity of `query` to the given memories that have a vector here."""
    if not ids:
        return {}
    # One point lookup each: vec0 answers `memory_id IN (...)` with a scan.
    sql = f"SELECT memory_id, full FROM {space.table} WHERE memory_id = ?"
    rows = []
    for mid in ids:
        cur = conn.execute(sql, (mid,))
        rows.extend(cur.fetchall())
        cur.close()
    return dict(_rerank(query, rows))


def all_vectors(conn: Any, space: Space) -> tuple[np.ndarray, np.ndarray]:
    """Every memory id in the space and its full vector, one row each (a bench's exact scan)."""
    rows = conn.execute(f"SELECT memory_id, full FROM {space.table}").fetchall()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), space.dim)
    return ids, matrix


def _rerank(query: np.ndarray, rows: list[Any]) -> list[tuple[int, float]]:
    if not rows:
        return []
    ids = [r[0] for r in rows]
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
    sims = matrix @ query.astype(np.float32)
    order = np.argsort(-sims, kind="stable")
    return [(ids[i], float(sims[i])) for i in order]


class VectorIndex:
    """The embedding spaces of one project file, for the memory service."""

    def __init__(self, store: ProjectStore) -> None:
        self.store = store

    async def active_space(self) -> Space | None:
        """The space recall uses now; None before the first memory is embedded."""
        return await self.store.run(active_space)

    async def ensure_space(self, embedder: str, dim: int, *, activate_if_first: bool = True) -> Space:
        """The space for (embedder, dim), created (in its own transaction) if new."""
        return await self.store.write(
            lambda tx: ensure_space(tx.conn, embedder, dim, activate_if_first=activate_if_first)
        )

    async def missing_ids(self, space: Space) -> list[int]:
        """Memories without a vector in `space`, oldest first."""
        return await self.store.run(lambda conn: missing_ids(conn, space))
