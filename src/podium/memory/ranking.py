"""Hybrid ranking: vector similarity fused with BM25, behind a relevance floor.

Two fusions are available:

- `rrf`, reciprocal rank fusion: sum of 1/(60 + rank) over both lists.
  Needs no calibration, but with the few candidates memory recall sees it
  keeps only order: a memory first by words and second by meaning ties
  exactly with one second by words and first by meaning, however large
  the margins.
- `relative` (the default): each list's scores divided by that list's best
  (similarity / best similarity, BM25 / best BM25), then averaged. Scales
  stay comparable (both end at 1.0 for the best), and a rare word that
  BM25 rates far above everything else keeps its margin. On the labelled
  set in tests/unit/test_memory_hybrid.py it beats both single rankings
  and RRF.

Neither fusion can say whether anything is relevant at all (the best of a
bad lot is still first), so a separate floor on absolute evidence decides
what may be returned: similarity at or above the embedder's floor, or a
text that contains every word of a short query.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

RRF_K = 60


class Mode(StrEnum):
    HYBRID = "hybrid"
    VECTOR = "vector"
    KEYWORD = "keyword"


class Fusion(StrEnum):
    RELATIVE = "relative"
    RRF = "rrf"


@dataclass
class Candidate:
    id: int
    similarity: float | None = None  # None: no vector in the active space
    keyword_rank: int | None = None  # 1-based BM25 rank, None: no keyword match
    keyword_score: float = 0.0  # BM25 strength (higher is better)
    all_terms: bool = False  # contains every content word of a short query
    vector_rank: int | None = None
    score: float = 0.0


def fuse(
    candidates: dict[int, Candidate], *, mode: Mode, floor: float, k: int,
    fusion: Fusion = Fusion.RELATIVE,
) -> list[Candidate]:
    """The best `k` candidates that pass the relevance floor, best first, scores in [0, 1]."""
    embedded = sorted(
        (c for c in candidates.values() if c.similarity is not None),
        key=lambda c: (-(c.similarity or 0.0), c.id),
    )
    for rank, c in enumerate(embedded, start=1):
        c.vector_rank = rank
    best_sim = max((c.similarity or 0.0 for c in embedded), default=0.0)
    best_bm25 = max((c.keyword_score for c in candidates.values() if c.keyword_rank), default=0.0)

    kept: list[Candidate] = []
    for c in candidates.values():
        similar = c.similarity is not None and c.similarity >= floor
        if mode is Mode.VECTOR:
            if not similar:
                continue
            c.score = max(0.0, min(1.0, c.similarity or 0.0))
        elif mode is Mode.KEYWORD:
            if c.keyword_rank is None:
                continue
            c.score = _relative(c.keyword_score, best_bm25) if best_bm25 > 0 else 1.0 / c.keyword_rank
        else:
            if not (similar or c.all_terms):
                continue
            # Only similarity above the floor counts as evidence: a vector
            # rank among irrelevant texts would be noise.
            if fusion is Fusion.RRF:
                fused = 0.0
                if similar and c.vector_rank is not None:
                    fused += 1.0 / (RRF_K + c.vector_rank)
                if c.keyword_rank is not None:
                    fused += 1.0 / (RRF_K + c.keyword_rank)
                c.score = min(1.0, fused / (2.0 / (RRF_K + 1)))  # first in both lists = 1.0
            else:
                vec = _relative(c.similarity or 0.0, best_sim) if similar else 0.0
                if c.keyword_rank is None:
                    words = 0.0
                elif best_bm25 > 0:
                    words = _relative(c.keyword_score, best_bm25)
                else:
                    # BM25 is ~0 in a tiny corpus (FTS5 clamps negative IDF): use rank.
                    words = 1.0 / c.keyword_rank
                c.score = (vec + words) / 2.0
        kept.append(c)
    kept.sort(key=lambda c: (-c.score, -(c.similarity or -1.0), c.id))
    return kept[:k]


def _relative(value: float, best: float) -> float:
    return max(0.0, min(1.0, value / best)) if best > 0 else 0.0
