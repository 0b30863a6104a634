"""The memories repository and the vector index on a real project file.

What the store decides on its own: the scoped Hamming pre-filter and the
float re-rank, the keyword skip rules, which vectors a write or a re-embed
batch may add, and that a search's candidates carry exact similarities.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from podium import events
from podium.domain import MemoryKind
from podium.store import ProjectStore, memory_fts, vectors
from podium.store.memories import CandidateQuery, Embedding, MemoryRepository, NewMemory

DIM = 16


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def _new(text: str, agent: str | None = None) -> NewMemory:
    return NewMemory(MemoryKind.FACT, text, agent, "run1", None, f"hash-{text}-{agent}")


async def _stored_events(store: ProjectStore) -> list[dict]:
    rows = await store.query(
        "SELECT payload FROM events WHERE type = ? ORDER BY seq", (events.MEMORY_STORED,)
    )
    return [json.loads(r[0]) for r in rows]


async def test_scoped_knn_scans_only_that_scope_and_reranks_by_exact_cosine(store):
    repo = MemoryRepository(store)
    rng = np.random.default_rng(3)
    query = _unit(rng.standard_normal(DIM))
    # The project scope holds vectors almost equal to the query; the analyst's are farther off.
    near = _unit(query + 0.01 * rng.standard_normal((3, DIM)))
    far = _unit(query + np.array([[0.6], [0.3], [1.2]]) * rng.standard_normal((3, DIM)))
    texts = [f"p{i}" for i in range(3)] + [f"a{i}" for i in range(3)]
    agents = [None] * 3 + ["analyst"] * 3
    stored = await repo.add(
        [_new(t, a) for t, a in zip(texts, agents, strict=True)],
        Embedding("test", np.vstack([near, far])),
    )
    ids = {m.text: m.id for m in stored}
    space = await store.run(vectors.active_space)
    assert space is not None and (space.embedder, space.dim) == ("test", DIM)

    got = await store.run(lambda c: vectors.knn(c, space, query, scope="analyst", candidates=10))
    assert {mid for mid, _ in got} == {ids["a0"], ids["a1"], ids["a2"]}
    exact = {ids[t]: float(v @ query) for t, v in zip(["a0", "a1", "a2"], far, strict=True)}
    assert [mid for mid, _ in got] == sorted(exact, key=lambda i: -exact[i])
    assert all(sim == pytest.approx(exact[mid], abs=1e-5) for mid, sim in got)

    everywhere = await store.run(lambda c: vectors.knn(c, space, query, scope=None, candidates=2))
    assert {mid for mid, _ in everywhere} <= {ids["p0"], ids["p1"], ids["p2"]} and len(everywhere) == 2


async def test_add_writes_vectors_only_when_the_batch_fits_the_active_space(store):
    repo = MemoryRepository(store)
    rng = np.random.default_rng(5)
    await repo.add([_new("first")], Embedding("test", _unit(rng.standard_normal((1, DIM)))))
    # Another embedder (another process switched models): text stored, no vector.
    (item,) = await repo.add([_new("second")], Embedding("other", _unit(rng.standard_normal((1, 8)))))
    # A text stored already in that scope is skipped, with no event.
    assert await repo.add([_new("first")], None) == []
    space = await store.run(vectors.active_space)
    assert space is not None and await store.run(lambda c: vectors.count_vectors(c, space)) == 1
    assert [(e["text"], e["embedded"]) for e in await _stored_events(store)] == [
        ("first", True), ("second", False),
    ]
    assert await repo.find(_new("second").text_hash, "") == item
    assert await repo.existing([_new("first").key, _new("first", "analyst").key]) == {_new("first").key}


async def test_a_reembed_batch_gives_no_vector_to_a_memory_forgotten_meanwhile(store):
    repo = MemoryRepository(store)
    items = await repo.add([_new("kept"), _new("gone")], None)
    space = await store.write(lambda tx: vectors.ensure_space(tx.conn, "test", DIM, activate_if_first=False))
    assert await repo.get_many([m.id for m in items]) == items
    await repo.forget(items[1].id)
    written = await repo.add_vectors(space, items, _unit(np.ones((2, DIM))))
    assert written == 1
    assert await store.run(lambda c: vectors.missing_ids(c, space)) == []
    dropped = await repo.switch_space(space, keep_old=False, embedded=written)
    assert dropped == [] and (await store.run(vectors.active_space)) == space.__class__(
        space.id, "test", DIM, space.coarse_bits, space.seed, True
    )


async def test_common_words_are_left_out_of_the_ranked_query(store, monkeypatch):
    repo = MemoryRepository(store)
    monkeypatch.setattr(memory_fts, "COMMON_MIN", 3)  # cap = 3 memories for this tiny corpus
    texts = ["pump heat one", "pump heat two", "pump heat three", "pump heat four", "pump rare seven"]
    await repo.add([_new(t) for t in texts], None)
    counts = await store.run(lambda c: memory_fts.term_counts(c, ["pump", "rare", "absent"]))
    assert counts == {"pump": (3, 3), "rare": (1, 3), "absent": (0, 3)}

    ranked, every = await store.run(
        lambda c: memory_fts.keyword_search(c, ["pump", "rare"], counts, None, 10, want_all=True)
    )
    # "pump" is in every memory: only "rare" ranks, and every-word still finds the one holding both.
    assert [await _text(repo, mid) for mid, _ in ranked] == ["pump rare seven"]
    assert [await _text(repo, mid) for mid, _ in every] == ["pump rare seven"]


async def test_every_word_query_is_skipped_when_a_word_is_missing_or_all_are_common(store, monkeypatch):
    repo = MemoryRepository(store)
    monkeypatch.setattr(memory_fts, "COMMON_MIN", 2)
    await repo.add([_new(t) for t in ["alpha beta", "alpha beta gamma", "alpha beta delta"]], None)
    terms = ["alpha", "beta", "zeta"]
    counts = await store.run(lambda c: memory_fts.term_counts(c, terms))
    assert counts["zeta"] == (0, 2)
    ranked, every = await store.run(
        lambda c: memory_fts.keyword_search(c, terms, counts, None, 10, want_all=True)
    )
    assert ranked == [] and every == []  # both known words are common; the third is absent
    counts = await store.run(lambda c: memory_fts.term_counts(c, ["alpha", "beta"]))
    _, every = await store.run(
        lambda c: memory_fts.keyword_search(c, ["alpha", "beta"], counts, None, 10, want_all=True)
    )
    assert every == []  # no rare word bounds the result: not worth the query


async def test_keyword_search_keeps_to_its_scopes(store):
    repo = MemoryRepository(store)
    await repo.add([_new("turbine blade", "analyst"), _new("turbine tower", "writer"), _new("turbine")], None)
    counts = await store.run(lambda c: memory_fts.term_counts(c, ["turbine"]))
    ranked, _ = await store.run(
        lambda c: memory_fts.keyword_search(c, ["turbine"], counts, ["analyst", ""], 10, want_all=False)
    )
    assert sorted([await _text(repo, mid) for mid, _ in ranked]) == ["turbine", "turbine blade"]


async def test_candidates_give_keyword_only_hits_their_exact_similarity(store):
    repo = MemoryRepository(store)
    rng = np.random.default_rng(11)
    matrix = _unit(rng.standard_normal((4, DIM)))
    stored = await repo.add(
        [_new(t, "analyst") for t in ["zebra crossing", "apple pie", "apple tart", "pear cake"]],
        Embedding("test", matrix),
    )
    space = await store.run(vectors.active_space)
    query = matrix[3]  # nearest is "pear cake"; the words point at "zebra crossing"
    found = await repo.candidates(CandidateQuery(
        groups=[["analyst"], [""]], terms=["zebra"], want_all=True, limit=1, vector=query, space=space,
    ))
    analyst, project = found.groups
    ids = {m.text: m.id for m in stored}
    assert [mid for mid, _ in analyst.nearest] == [ids["pear cake"]]
    assert [mid for mid, _ in analyst.ranked] == [ids["zebra crossing"]] == analyst.every
    assert project.nearest == [] and project.ranked == [] and project.every == []
    assert found.similarities[ids["zebra crossing"]] == pytest.approx(float(matrix[0] @ query), abs=1e-5)
    assert set(found.rows) == {ids["pear cake"], ids["zebra crossing"]}
    assert found.memory(ids["zebra crossing"]) == stored[0]
    assert found.source_execution(ids["pear cake"]) == "run1" and ids["apple pie"] not in found


async def _text(repo: MemoryRepository, mid: int) -> str:
    (item,) = await repo.get_many([mid])
    return item.text
