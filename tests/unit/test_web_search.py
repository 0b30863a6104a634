"""web_search: which provider (env vs podium.toml), when the tool is offered (configured, online),
and the web tools recording what they read as sources an agent cites, checked by check_claims;
against a fake SearXNG on loopback."""

from __future__ import annotations

import pytest

from podium.domain import Agent
from podium.llm.search import SearchConfig, resolve_search
from podium.llm.types import ModelConfigError
from podium.orchestrator.teams import PRESETS
from podium.store.sources import SourceRepository
from podium.tools.toolbox import ToolBox
from podium.tools.types import ToolContext
from tests.support.search_server import FakeSearch
from tests.tools_fixtures import store, vault  # noqa: F401  (fixtures)

CTX = ToolContext(execution_id="run1", subtask_id="t1", agent="researcher")
PAGES = {
    "norway": ("Heat pumps in Norway",
               "In 2023, 60 percent of Norwegian homes heated with a heat pump.\n\n"
               "Installers had a record year."),
    "boilers": ("Gas boilers", "Gas boilers are being phased out in several countries."),
}


@pytest.fixture(autouse=True)
def _no_search_env(monkeypatch):
    for name in ("PODIUM_SEARCH", "PODIUM_SEARCH_API_BASE", "PODIUM_OFFLINE", "SEARXNG_API_BASE",
                 "TAVILY_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def _toml(folder, text):
    (folder / "podium.toml").write_text(text)


def test_no_provider_configured_means_no_search(tmp_path):
    assert resolve_search(tmp_path / "p.podium") is None


def test_the_project_file_env_and_user_file_in_order(tmp_path, monkeypatch):
    project = tmp_path / "proj" / "p.podium"
    project.parent.mkdir()
    user = tmp_path / "config"
    user.mkdir()
    _toml(user, 'search = "tavily"\n')
    assert resolve_search(project) == SearchConfig(provider="tavily", source=str(user / "podium.toml"))
    _toml(project.parent, 'search = "searxng"\nsearch_api_base = "http://127.0.0.1:8888"\n')
    chosen = resolve_search(project)
    assert (chosen.provider, chosen.api_base, chosen.source) == (
        "searxng", "http://127.0.0.1:8888", str(project.parent / "podium.toml"))
    monkeypatch.setenv("PODIUM_SEARCH", "Exa")  # an alias of litellm's exa_ai
    chosen = resolve_search(project)
    # The project file's endpoint is its searxng's, not exa's.
    assert (chosen.provider, chosen.api_base, chosen.source) == ("exa_ai", None, "env PODIUM_SEARCH")
    monkeypatch.setenv("PODIUM_SEARCH_API_BASE", "http://elsewhere")
    assert resolve_search(project).api_base == "http://elsewhere"


def test_bad_search_settings_are_refused_with_one_line(tmp_path):
    _toml(tmp_path, 'search = "searxng"\n')
    with pytest.raises(ModelConfigError, match="needs its instance's URL"):
        resolve_search(tmp_path / "p.podium")
    _toml(tmp_path, 'search = "tavily"\nsearch_api_key = "tvly-123"\n')
    with pytest.raises(ModelConfigError, match="keep API keys in the environment"):
        resolve_search(tmp_path / "p.podium")
    _toml(tmp_path, "search = 3\n")
    with pytest.raises(ModelConfigError, match="search must be a non-empty string"):
        resolve_search(tmp_path / "p.podium")


async def test_web_search_is_offered_only_when_configured_and_online(store, monkeypatch):  # noqa: F811
    config = SearchConfig(provider="searxng", api_base="http://127.0.0.1:9", source="test")
    names = lambda box: [t.name for t in box.catalogue()]  # noqa: E731
    assert "web_search" not in names(ToolBox(store))  # nothing configured next to the file
    assert "web_search" in names(ToolBox(store, search=config, offline=False))
    assert "web_search" not in names(ToolBox(store, search=config, offline=True))
    monkeypatch.setenv("PODIUM_OFFLINE", "1")
    assert "web_search" not in names(ToolBox(store, search=config))
    monkeypatch.delenv("PODIUM_OFFLINE")
    _toml(store.path.parent, 'search = "searxng"\nsearch_api_base = "http://127.0.0.1:9"\n')
    box = ToolBox(store, offline=False)
    assert box.search is not None and box.search.provider == "searxng"
    assert "(via searxng)" in next(t.description for t in box.catalogue() if t.name == "web_search")
    _toml(store.path.parent, 'search = "searxng"\n')
    broken = ToolBox(store, offline=False)
    assert broken.search is None and "search_api_base" in (broken.search_error or "")


def test_check_claims_is_the_fact_checkers_alone(store):  # noqa: F811
    box = ToolBox(store, offline=True)
    everyone = Agent(name="writer", role="writer")
    checker = next(a for a in PRESETS["research"].agents if a.name == "fact-checker")
    assert "check_claims" not in [t.name for t in box.tools_for(everyone)]
    offered = [t.name for t in box.tools_for(checker)]
    assert "check_claims" in offered and "read_file" in offered and "run_command" not in offered


async def test_search_fetch_and_check_record_sources_and_flag_a_fabricated_citation(store, vault):  # noqa: F811
    with FakeSearch(PAGES) as fake:
        config = SearchConfig(provider="searxng", api_base=fake.base_url, source="test")
        box = await ToolBox.open(store, vault=vault, search=config, offline=False, allow_tools=["fetch_url"])
        found = await box.call("web_search", {"query": "heat pumps norway", "max_results": 2}, ctx=CTX)
        assert found.ok, found.error
        assert fake.searches() == ["heat pumps norway"]
        assert "[S1] Heat pumps in Norway" in found.content and "[S2] Gas boilers" in found.content
        page = await box.call("fetch_url", {"url": fake.url("norway")}, ctx=CTX)
        assert page.ok, page.error
        assert page.content.startswith(f"[S1] Heat pumps in Norway — {fake.url('norway')}")
        assert "60 percent of Norwegian homes" in page.content and "var x" not in page.content
    sources = await SourceRepository(store).for_run("run1")
    assert [(s.id, s.kind.value) for s in sources] == [("S1", "page"), ("S2", "search")]
    assert "record year" in sources[0].text

    checker = ToolContext(execution_id="run1", subtask_id="t3", agent="fact-checker",
                          agent_tools=["check_claims"])
    text = ("In 2023, 60 percent of Norwegian homes heated with a heat pump [S1]. "
            "Boilers were banned everywhere in 2020 [S2]. Sales tripled [S7].")
    checked = await box.call("check_claims", {"text": text}, ctx=checker)
    assert checked.ok, checked.error
    assert "1 supported, 1 unsupported, 1 not found" in checked.content
    assert "[S7] NOT FOUND" in checked.content
    verdicts = [(c.source, c.verdict.value) for c in await SourceRepository(store).checks("run1")]
    assert verdicts == [("S1", "supported"), ("S2", "unsupported"), ("S7", "not_found")]
    await box.aclose()


async def test_a_search_that_fails_tells_the_agent_why(store, vault):  # noqa: F811
    config = SearchConfig(provider="searxng", api_base="http://127.0.0.1:9", source="test")
    box = await ToolBox.open(store, vault=vault, search=config, offline=False)
    failed = await box.call("web_search", {"query": "x"}, ctx=CTX)
    assert failed.error is not None and failed.error.startswith("web search via searxng failed")
    keyless = await ToolBox.open(store, vault=vault, offline=False,
                                 search=SearchConfig(provider="tavily", source="test"))
    missing = await keyless.call("web_search", {"query": "x"}, ctx=CTX)
    assert "needs TAVILY_API_KEY" in (missing.error or "")
