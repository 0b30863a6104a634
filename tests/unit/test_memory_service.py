"""MemoryService on a real project file: writes with events, recall across runs, spaces."""

from __future__ import annotations

import pytest

from podium import events
from podium.domain import MemoryKind
from podium.errors import NotFoundError, PodiumError, ReadOnlyError
from podium.memory.embedders import GatewayEmbedder, HashedEmbedder
from podium.memory.ranking import Mode
from podium.memory.service import MemoryService
from podium.store import ProjectStore, vectors

FACT = "Our customers are mostly in Tromsø, Norway, and heat their homes with heat pumps."
NOISE = [
    "The brand colour for every chart is dark teal.",
    "Kari from finance approves each budget estimate.",
    "Write for homeowners: short sentences, no jargon.",
    "The client wants the brief before the Easter holidays.",
    "Poorly insulated houses lose most of their warmth through the roof.",
]


async def _events(store: ProjectStore, type: str) -> list[dict]:
    rows = await store.query("SELECT payload FROM events WHERE type = ? ORDER BY seq", (type,))
    import json

    return [json.loads(r[0]) for r in rows]


async def test_fact_from_run_one_is_recalled_into_a_relevant_subtask_of_run_two(store):
    # Run 1: the analyst's subtask output, plus unrelated memories in both scopes.
    memory = MemoryService(store)
    await memory.remember_output(agent="analyst", text=FACT, execution_id="run1", subtask_id="t2")
    for i, text in enumerate(NOISE):
        await memory.remember_output(agent="analyst", text=text, execution_id="run1", subtask_id=f"n{i}")
    await memory.remember_lessons(
        lessons=[(None, "Ask for the house size before estimating costs."),
                 ("writer", "Keep the brief to one page.")],
        execution_id="run1",
    )

    # Run 2, a fresh service (as a new process would have).
    later = MemoryService(store)
    relevant = await later.recall_for(
        agent="analyst", text="Estimate yearly heating costs for customers in Norway", execution_id="run2"
    )
    assert relevant and relevant[0].text == FACT
    assert relevant[0].kind is MemoryKind.OUTPUT and relevant[0].agent == "analyst"
    assert relevant[0].source_execution == "run1" and 0 < relevant[0].score <= 1
    # The project-wide lesson comes too: it is about estimating costs.
    assert any(r.agent is None and r.kind is MemoryKind.LESSON for r in relevant)

    unrelated = await later.recall_for(
        agent="analyst", text="Compose a haiku about autumn leaves", execution_id="run2"
    )
    assert FACT not in [r.text for r in unrelated]
    # Another agent does not get the analyst's own memories.
    other = await later.recall_for(agent="writer", text="heating costs in Norway", execution_id="run2")
    assert FACT not in [r.text for r in other]
    # Within run 1 itself, its own outputs are not recalled (they arrive as handoffs).
    same_run = await later.recall_for(agent="analyst", text="heating costs in Norway", execution_id="run1")
    assert FACT not in [r.text for r in same_run]


async def test_recall_returns_top_k_per_scope(store):
    memory = MemoryService(store)
    for i in range(6):
        await memory.add_fact(f"Heat pump installation note number {i} for the analyst", agent="analyst")
        await memory.add_fact(f"Heat pump installation note number {i} for the project")
    got = await memory.recall_for(agent="analyst", text="heat pump installation note", execution_id=None, k=2)
    assert [r.agent for r in got] == ["analyst", "analyst", None, None]


async def test_each_write_has_its_event_and_duplicates_are_skipped(store):
    memory = MemoryService(store)
    item, new = await memory.add_fact("Our customers are in Norway")
    again, new_again = await memory.add_fact("our customers  are in NORWAY ")
    assert new and not new_again and again.id == item.id
    # Same text, other scope: a different memory.
    scoped, scoped_new = await memory.add_fact("Our customers are in Norway", agent="writer")
    assert scoped_new and scoped.id != item.id
    await memory.remember_lessons(
        lessons=[(None, "Our customers are in Norway"), (None, "Cite sources"), (None, "Cite sources")],
        execution_id="r1",
    )
    stored = await _events(store, events.MEMORY_STORED)
    assert [e["id"] for e in stored] == [item.id, scoped.id, item.id + 2]
    assert all(e["embedded"] for e in stored)
    count = await store.query_one("SELECT count(*) FROM memories")
    assert count[0] == 3

    space = await store.run(vectors.active_space)
    assert space is not None and (space.embedder, space.dim) == ("hashed", 384)
    assert await store.run(lambda c: vectors.count_vectors(c, space)) == 3


async def test_forget_removes_text_vector_and_index_entry(store):
    memory = MemoryService(store)
    item, _ = await memory.add_fact("Fjordkraft invoices carry the prefix FK")
    assert (await memory.search("Fjordkraft")).hits
    forgotten = await memory.forget(item.id)
    assert forgotten.text.startswith("Fjordkraft")
    assert (await memory.search("Fjordkraft")).hits == []
    space = await store.run(vectors.active_space)
    assert await store.run(lambda c: vectors.count_vectors(c, space)) == 0
    assert [e["id"] for e in await _events(store, events.MEMORY_FORGOTTEN)] == [item.id]
    with pytest.raises(NotFoundError):
        await memory.forget(item.id)


async def test_list_filters_by_agent_and_kind(store):
    memory = MemoryService(store)
    await memory.add_fact("A project fact")
    await memory.add_fact("An analyst fact", agent="analyst")
    await memory.remember_lessons(lessons=[("analyst", "An analyst lesson")], execution_id="r")
    await memory.remember_result(text="The final brief", execution_id="r")
    assert [i.text for i in await memory.list(agent="analyst")] == ["An analyst lesson", "An analyst fact"]
    assert [i.text for i in await memory.list(kind=MemoryKind.RESULT)] == ["The final brief"]
    assert len(await memory.list(limit=2)) == 2


async def test_reembed_switches_space_and_never_mixes(store, tmp_path):
    memory = MemoryService(store)
    await memory.add_fact(FACT, agent="analyst")
    for text in NOISE:
        await memory.add_fact(text)
    before = await memory.search("heating in Norway", agent="analyst")
    assert before.hits[0].text == FACT

    # An explicit embedder that differs from the file's space is refused.
    with pytest.raises(PodiumError, match="reembed"):
        await MemoryService(store, HashedEmbedder(128)).add_fact("Anything new")

    from podium.llm.gateway import Gateway

    script = tmp_path / "embed.toml"
    script.write_text("embedding_dim = 48\n")
    model = GatewayEmbedder(f"scripted:{script}", Gateway())
    report = await memory.reembed(model)
    assert report.dim == 48 and report.embedded == 1 + len(NOISE) and report.dropped == ["hashed/384"]
    spaces = await store.run(vectors.list_spaces)
    assert [(s.embedder, s.dim, s.active) for s in spaces] == [(f"scripted:{script}", 48, True)]
    assert (await _events(store, events.MEMORY_REEMBEDDED))[0]["dim"] == 48

    # A new service picks the file's space, embeds new memories into it, and finds old ones.
    fresh = MemoryService(store)
    await fresh.add_fact("Enova pays grants for new heat pump installations")
    embedder, space = await fresh.embedder()
    assert embedder.name == f"scripted:{script}" and space.dim == 48
    assert await store.run(lambda c: vectors.count_vectors(c, space)) == 2 + len(NOISE)
    hits = (await fresh.search("customers Norway heat pumps", agent="analyst")).hits
    assert FACT in [h.text for h in hits]

    # And back to the built-in embedder, at another dimension.
    back = await fresh.reembed(HashedEmbedder(128))
    assert (back.dim, back.embedded) == (128, 2 + len(NOISE))
    assert (await MemoryService(store).search("heating in Norway", agent="analyst")).hits[0].text == FACT


async def test_a_failing_embedder_keeps_the_text_and_reembed_fills_the_vector(store, tmp_path):
    from podium.llm.gateway import Gateway

    broken = GatewayEmbedder(f"scripted:{tmp_path / 'missing.toml'}", Gateway())
    memory = MemoryService(store, broken)
    item, new = await memory.add_fact("Fjordkraft invoices carry the prefix FK")
    assert new
    assert (await _events(store, events.MEMORY_STORED))[0]["embedded"] is False
    found = await memory.search("Fjordkraft invoices")
    assert [h.id for h in found.hits] == [item.id] and found.hits[0].similarity is None

    report = await memory.reembed(HashedEmbedder())
    assert report.embedded == 1
    hits = (await MemoryService(store).search("fjordkraft invoice prefix", mode=Mode.VECTOR)).hits
    assert [h.id for h in hits] == [item.id] and hits[0].similarity is not None


async def test_archive_is_searchable_and_read_only(store, tmp_path):
    from podium.store.archive import export_archive

    memory = MemoryService(store)
    await memory.add_fact(FACT)
    await export_archive(store, tmp_path / "a.podium")
    archive = await ProjectStore.open(tmp_path / "a.podium", readonly=True)
    try:
        offline = MemoryService(archive, gateway_factory=None)
        assert (await offline.search("heat pumps in Norway")).hits[0].text == FACT
        with pytest.raises(ReadOnlyError):
            await offline.add_fact("Not allowed")
    finally:
        await archive.close()


async def test_archive_embedded_by_an_unreachable_model_falls_back_to_keywords(store, tmp_path):
    from podium.llm.gateway import Gateway
    from podium.store.archive import export_archive

    script = tmp_path / "embed.toml"
    script.write_text("embedding_dim = 16\n")
    memory = MemoryService(store, GatewayEmbedder(f"scripted:{script}", Gateway()))
    await memory.add_fact(FACT)
    await export_archive(store, tmp_path / "a.podium")
    archive = await ProjectStore.open(tmp_path / "a.podium", readonly=True)
    try:
        offline = MemoryService(archive, gateway_factory=None)  # no gateway on this machine
        result = await offline.search("heat pumps in Norway")
        assert [h.text for h in result.hits] == [FACT]
        assert result.warning and "keyword search only" in result.warning
    finally:
        await archive.close()
