"""The sources repository on a real project file: numbering per run, one record per URL and
subtask (a search hit later fetched becomes the page), events, claim checks."""

from __future__ import annotations

import json

from podium import events
from podium.citations import ClaimCheck, ClaimVerdict, SourceKind
from podium.store.sources import NewSource, SourceRepository, text_hash
from tests.tools_fixtures import store  # noqa: F401  (fixture: a project holding run1)


async def _events(project, type_):
    rows = await project.query("SELECT payload FROM events WHERE type = ? ORDER BY seq", (type_,))
    return [json.loads(r["payload"]) for r in rows]


async def test_sources_are_numbered_per_run_and_a_fetched_hit_becomes_the_page(store):  # noqa: F811
    repo = SourceRepository(store)
    hits = [NewSource(SourceKind.SEARCH, "https://a.example/1", "One", "One\nsnippet one", "q", "searxng"),
            NewSource(SourceKind.SEARCH, "https://a.example/2", "Two", "Two\nsnippet two", "q", "searxng")]
    first = await repo.record("run1", subtask_id="t1", agent="researcher", items=hits)
    assert [s.id for s in first] == ["S1", "S2"]
    again = await repo.record("run1", subtask_id="t1", agent="researcher", items=hits[:1])
    assert [s.id for s in again] == ["S1"]  # the same hit, the same id, nothing new recorded
    page = await repo.record("run1", subtask_id="t1", agent="researcher",
                             items=[NewSource(SourceKind.PAGE, "https://a.example/1", "",
                                              "The full page text.")])
    assert page[0].id == "S1" and page[0].kind is SourceKind.PAGE and page[0].title == "One"
    other = await repo.record("run1", subtask_id="t2", agent="analyst",
                              items=[NewSource(SourceKind.PAGE, "https://a.example/1", "One", "page")])
    assert other[0].id == "S3"  # another subtask's read is its own record
    stored = await repo.for_run("run1")
    assert [(s.id, s.kind.value, s.subtask_id) for s in stored] == [
        ("S1", "page", "t1"), ("S2", "search", "t1"), ("S3", "page", "t2")]
    assert stored[0].text == "The full page text." and stored[0].sha256 == text_hash("The full page text.")
    assert stored[0].query == "q" and stored[0].provider == "searxng"
    recorded = await _events(store, events.SOURCE_RECORDED)
    assert [(e["id"], e["updated"]) for e in recorded] == [("S1", False), ("S2", False), ("S1", True),
                                                          ("S3", False)]


async def test_nothing_is_recorded_outside_a_stored_run(store):  # noqa: F811
    repo = SourceRepository(store)
    item = [NewSource(SourceKind.PAGE, "https://a.example", "A", "text")]
    assert await repo.record("nope", subtask_id=None, agent="a", items=item) == []
    assert await repo.record(None, subtask_id=None, agent="a", items=item) == []
    assert await _events(store, events.SOURCE_RECORDED) == []


async def test_long_text_is_clipped_but_hashed_whole(store):  # noqa: F811
    text = "x" * 150_000
    (s,) = await SourceRepository(store).record(
        "run1", subtask_id="t1", agent="a", items=[NewSource(SourceKind.PAGE, "https://big", "Big", text)])
    assert s.truncated and s.chars == 150_000 and len(s.text) == 100_000 and s.sha256 == text_hash(text)


async def test_claim_checks_are_kept_with_their_event(store):  # noqa: F811
    repo = SourceRepository(store)
    checks = [ClaimCheck(source="S1", claim="c1", verdict=ClaimVerdict.SUPPORTED, evidence="e"),
              ClaimCheck(source="S9", claim="c2", quote="q", verdict=ClaimVerdict.NOT_FOUND)]
    await repo.record_checks("run1", subtask_id="t3", agent="fact-checker", checks=checks)
    kept = await repo.checks("run1")
    assert [(c.source, c.verdict, c.subtask_id, c.agent) for c in kept] == [
        ("S1", ClaimVerdict.SUPPORTED, "t3", "fact-checker"),
        ("S9", ClaimVerdict.NOT_FOUND, "t3", "fact-checker")]
    (event,) = await _events(store, events.CLAIMS_CHECKED)
    assert [c["verdict"] for c in event["checks"]] == ["supported", "not_found"]
