"""Hybrid ranking beats vector-only and keyword-only ranking on a labelled set.

The set holds both failure shapes on purpose:
- misspelt queries share no word with their memory, so keyword search
  finds nothing, while character n-grams still bring the vectors close;
- queries with one rare name among common words (words most memories
  share), which the hashed vectors weigh like any other word, so a
  memory repeating the common words wins by meaning, while BM25's IDF
  puts the rare name first.
"""

from __future__ import annotations

import pytest

from podium.memory.embedders import HashedEmbedder
from podium.memory.ranking import Candidate, Fusion, Mode, fuse
from podium.memory.service import MemoryService
from podium.store import ProjectStore

MEMORIES = {
    "tromso": "Most of our clients live in Tromsø, Norway.",
    "cop": "Heat pumps reach a coefficient of performance near 2.5 in frost.",
    "teal": "The brand colour for every chart is dark teal.",
    "insulation": "Poorly insulated houses lose most of their warmth through the roof.",
    "kari": "Kari approves each budget estimate before it ships.",
    "fk": "Fjordkraft invoices carry the prefix FK.",
    "nve": "Cite NVE for national statistics.",
    "enova": "Enova pays grants for new installations.",
    # Distractors: the common words, repeated.
    "d1": "Customer support answers customer questions about customer invoices and invoice prefixes "
    "every day.",
    "d2": "Every team shares one budget estimate each week; the team estimate ships as a team budget.",
    "d3": "National statistics on national prices and statistics about nations come out every week.",
    "d4": "New installations and new grants for installers: installation costs paid in new ways.",
    "f1": "The team sends each customer invoice with a budget estimate.",
    "f2": "A new customer gets national statistics and an invoice.",
    "f3": "Team budget and estimate reviews happen for new installations.",
    "f4": "Customer invoices list national statistics and installations.",
    "f5": "The team keeps the budget estimate for each new customer.",
    "f6": "Statistics on invoice totals go to the team and the customer.",
}
QUERIES = [
    ("clents in Tromso Norwy", "tromso"),
    ("heatpump perfomance in frosty wether", "cop"),
    ("colour of the charts", "teal"),
    ("insulaton roofs warmth loss", "insulation"),
    ("Kari budget estimate team", "kari"),
    ("Fjordkraft customer invoice prefix", "fk"),
    ("NVE national statistics", "nve"),
    ("Enova grants for new installations", "enova"),
]


@pytest.fixture
async def labelled(tmp_path):
    store = await ProjectStore.open(tmp_path / "labelled.podium")
    memory = MemoryService(store, HashedEmbedder())
    names = {}
    for name, text in MEMORIES.items():
        item, new = await memory.add_fact(text)
        assert new
        names[item.id] = name
    yield memory, names
    await store.close()


async def _first_hits(memory: MemoryService, names: dict[int, str], mode: Mode, fusion: Fusion) -> int:
    correct = 0
    for query, wanted in QUERIES:
        hits = (await memory.search(query, k=3, mode=mode, fusion=fusion)).hits
        correct += bool(hits) and names[hits[0].id] == wanted
    return correct


async def test_hybrid_beats_vector_only_and_keyword_only(labelled):
    memory, names = labelled
    hybrid = await _first_hits(memory, names, Mode.HYBRID, Fusion.RELATIVE)
    vector = await _first_hits(memory, names, Mode.VECTOR, Fusion.RELATIVE)
    keyword = await _first_hits(memory, names, Mode.KEYWORD, Fusion.RELATIVE)
    assert hybrid > vector and hybrid > keyword, (hybrid, vector, keyword)
    assert hybrid >= len(QUERIES) - 1


async def test_relative_fusion_keeps_margins_that_rank_fusion_ties_away(labelled):
    memory, names = labelled
    relative = await _first_hits(memory, names, Mode.HYBRID, Fusion.RELATIVE)
    rrf = await _first_hits(memory, names, Mode.HYBRID, Fusion.RRF)
    assert relative > rrf, (relative, rrf)


async def test_misspelt_query_is_found_by_meaning_only(labelled):
    memory, names = labelled
    keyword = await memory.search("heatpump perfomance in frosty wether", mode=Mode.KEYWORD)
    hybrid = await memory.search("heatpump perfomance in frosty wether")
    assert keyword.hits == []
    assert names[hybrid.hits[0].id] == "cop" and hybrid.hits[0].keyword_rank is None


def test_floor_drops_weak_candidates_but_keeps_full_keyword_matches():
    candidates = {
        1: Candidate(1, similarity=0.50, keyword_rank=2, keyword_score=1.0),
        2: Candidate(2, similarity=0.05, keyword_rank=1, keyword_score=3.0),  # below floor
        3: Candidate(3, similarity=0.05, keyword_rank=3, keyword_score=0.5, all_terms=True),
        4: Candidate(4, similarity=0.30),
    }
    kept = fuse(candidates, mode=Mode.HYBRID, floor=0.15, k=10)
    assert [c.id for c in kept] == [1, 4, 3]
    assert all(0.0 <= c.score <= 1.0 for c in kept)
    assert [c.id for c in fuse(candidates, mode=Mode.VECTOR, floor=0.15, k=10)] == [1, 4]
    assert [c.id for c in fuse(candidates, mode=Mode.KEYWORD, floor=0.15, k=10)] == [2, 1, 3]
