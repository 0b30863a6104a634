"""Memory benchmark: recall latency, insert throughput, file growth, quantisation quality.

A synthetic corpus (Zipf-distributed pseudo-words, 8-40 words a memory,
spread over five agents and the project scope) is written through
MemoryService in batches, exactly as lessons are stored at the end of a
run, so the figures include embedding, FTS indexing, vectors and events.
Queries are stored texts with half their words dropped and a few foreign
words added. Quality compares the 1-bit coarse scan + float re-rank with
an exact float scan of the same vectors (numpy, in memory).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from podium.memory.embedders import HashedEmbedder
from podium.memory.service import CANDIDATES, MemoryService
from podium.memory.text import text_hash
from podium.store import ProjectStore, vectors
from podium.store.memories import MemoryRepository

AGENTS = ["researcher", "analyst", "writer", "fact-checker", "leader"]
SCOPES: list[str | None] = [*AGENTS, None]
SCOPE_WEIGHTS = [0.25, 0.2, 0.15, 0.1, 0.1, 0.2]
BATCH = 1000


class Corpus:
    def __init__(self, seed: int = 7, vocab: int = 6000) -> None:
        self.rng = np.random.default_rng(seed)
        syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "po", "si", "ve", "da", "gor", "lin",
                     "tas", "ber", "quo", "fen", "hal", "jor", "wex", "zim", "tor", "nam"]
        words: set[str] = set()
        while len(words) < vocab:
            words.add("".join(self.rng.choice(syllables, size=int(self.rng.integers(2, 4)))))
        self.words = np.array(sorted(words))
        weights = 1.0 / np.arange(1, vocab + 1)
        self.p = weights / weights.sum()

    def text(self) -> str:
        return " ".join(self.rng.choice(self.words, size=int(self.rng.integers(8, 41)), p=self.p))

    def query_from(self, text: str) -> str:
        w = text.split()
        keep = self.rng.choice(len(w), size=max(2, len(w) // 2), replace=False)
        extra = self.rng.choice(self.words, size=3, p=self.p)
        return " ".join([w[i] for i in sorted(keep)] + list(extra))


def _knn(conn: Any, *, space: Any, query: Any) -> list[tuple[int, float]]:
    return vectors.knn(conn, space, query, scope=None, candidates=CANDIDATES)


def _file_bytes(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _one_size(n: int, queries: int, tmp: Path) -> dict[str, Any]:
    corpus = Corpus()
    path = tmp / f"bench-{n}.podium"
    store = await ProjectStore.open(path)
    try:
        memory = MemoryService(store, HashedEmbedder())
        await memory.add_fact("bench warm-up fact")  # creates the space
        await store.checkpoint()
        before = _file_bytes(path)
        texts: list[tuple[str | None, str]] = []
        start = time.perf_counter()
        for lo in range(0, n, BATCH):
            batch = []
            for _ in range(min(BATCH, n - lo)):
                scope = SCOPES[int(corpus.rng.choice(len(SCOPES), p=SCOPE_WEIGHTS))]
                batch.append((scope, corpus.text()))
            texts.extend(batch)
            await memory.remember_lessons(lessons=batch, execution_id="bench")
        insert_s = time.perf_counter() - start
        await store.checkpoint()
        stored = (await MemoryRepository(store).stats()).memories - 1
        growth = (_file_bytes(path) - before) / max(1, stored) * 10_000

        picks = corpus.rng.choice(len(texts), size=queries, replace=False)
        probes = [(texts[i][0], texts[i][1], corpus.query_from(texts[i][1])) for i in picks]
        recall_ms, recall_cpu, search_ms = [], [], []
        for scope, _, q in probes:
            agent = scope or AGENTS[0]
            t, c = time.perf_counter(), time.process_time()
            await memory.recall_for(agent=agent, text=q, execution_id=None, k=3)
            recall_ms.append((time.perf_counter() - t) * 1000)
            recall_cpu.append((time.process_time() - c) * 1000)
            t = time.perf_counter()
            await memory.search(q, k=5)
            search_ms.append((time.perf_counter() - t) * 1000)

        quality = await _quality(store, memory, probes[:100])
    finally:
        await store.close()
    return {
        "n": stored, "insert_per_s": stored / insert_s, "growth_per_10k": growth,
        "recall_median": statistics.median(recall_ms), "recall_p95": _pct(recall_ms, 0.95),
        "recall_cpu_median": statistics.median(recall_cpu),
        "search_median": statistics.median(search_ms), "search_p95": _pct(search_ms, 0.95),
        **quality,
    }


async def _quality(
    store: ProjectStore, memory: MemoryService, probes: list[tuple[str | None, str, str]]
) -> dict[str, float]:
    """Coarse scan + re-rank against an exact float scan, over every scope (the hardest case).

    overlap@k: share of the exact top-k that the quantised path also returns.
    found@3: how often the memory a query was made from is in the top 3,
    for exact float, quantised vectors, and the full hybrid search.
    """
    space = await store.run(vectors.active_space)
    assert space is not None
    ids, matrix = await store.run(lambda conn: vectors.all_vectors(conn, space))
    embedder, _ = await memory.embedder()
    at3, at10, exact_found, quant_found, hybrid_found = [], [], [], [], []
    repo = MemoryRepository(store)
    for scope, source_text, q in probes:
        found = await repo.find(text_hash(source_text), vectors.scope_of(scope))
        assert found is not None and found.id is not None
        source = found.id
        qv = (await embedder.embed([q]))[0]
        exact = ids[np.argsort(-(matrix @ qv), kind="stable")[:10]].tolist()
        got = await store.run(partial(_knn, space=space, query=qv))
        top = [mid for mid, _ in got[:10]]
        hybrid = [h.id for h in (await memory.search(q, k=3)).hits]
        at3.append(len(set(top[:3]) & set(exact[:3])) / 3)
        at10.append(len(set(top) & set(exact)) / 10)
        exact_found.append(source in exact[:3])
        quant_found.append(source in top[:3])
        hybrid_found.append(source in hybrid)
    return {
        "overlap_at_3": float(np.mean(at3)), "overlap_at_10": float(np.mean(at10)),
        "found_exact": float(np.mean(exact_found)), "found_quantised": float(np.mean(quant_found)),
        "found_hybrid": float(np.mean(hybrid_found)),
    }


async def run(sizes: list[int], queries: int = 200) -> list[dict[str, Any]]:
    results = []
    print("memory benchmark: built-in hashed embedder (384-d), 1,024-bit SimHash codes + float re-rank,")
    print(f"  {len(AGENTS)} agents + project scope, up to {queries} queries per size, k=3 per scope")
    print(f"  {'memories':>9}  {'recall ms med/p95 (cpu)':>24}  {'search-all ms med/p95':>22}  "
          f"{'inserts/s':>9}  {'MiB/10k':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            r = await _one_size(n, min(queries, n), Path(tmp))
            results.append(r)
            print(
                f"  {r['n']:>9,}  {r['recall_median']:>7.2f} / {r['recall_p95']:>6.2f} "
                f"({r['recall_cpu_median']:>5.2f})"
                f"  {r['search_median']:>11.2f} / {r['search_p95']:>7.2f}  {r['insert_per_s']:>9,.0f}  "
                f"{r['growth_per_10k'] / 2**20:>7.1f}",
                flush=True,
            )
    print("  recall = recall_for (agent scope + project scope, hybrid); search-all = `memory search`")
    print("  over every scope; cpu = process CPU ms (wall time includes waiting for a busy machine).")
    print("  targets: median recall < 10 ms at 10k, < 50 ms at 100k.")
    print()
    print("quantised vs float (up to 100 queries over every scope; a query = half a stored memory + 3 words)")
    print(f"  {'memories':>9}  {'overlap@3':>9}  {'overlap@10':>10}  {'found@3 float':>13}  "
          f"{'quantised':>9}  {'hybrid':>6}")
    for r in results:
        print(f"  {r['n']:>9,}  {r['overlap_at_3']:>9.2f}  {r['overlap_at_10']:>10.2f}  "
              f"{r['found_exact']:>13.2f}  {r['found_quantised']:>9.2f}  {r['found_hybrid']:>6.2f}")
    return results
