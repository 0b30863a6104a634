"""Web search through litellm (`litellm.asearch`): which provider, where, and one search call.

The provider is chosen like a model, first found wins:
  $PODIUM_SEARCH > `search` in the project's podium.toml > the user's podium.toml > none.
Its endpoint: $PODIUM_SEARCH_API_BASE > `search_api_base` in the first podium.toml that names
no other provider (a SearXNG instance needs one; hosted providers have their own default).
The provider's API key (e.g. TAVILY_API_KEY) comes from the environment or the vault
(`podium vault set TAVILY_API_KEY`), never from a file. No provider configured: no search.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from podium.errors import PodiumError
from podium.llm.config import config_files, first_setting
from podium.llm.keys import find_secret
from podium.llm.types import ModelConfigError

SEARCH_ENV = "PODIUM_SEARCH"
SEARCH_API_BASE_ENV = "PODIUM_SEARCH_API_BASE"
MAX_RESULTS = 10
TIMEOUT_S = 30.0

# The variable each provider's key is read from (litellm reads the same names from the environment;
# Podium also looks in the vault and passes the key explicitly). Providers not listed: <NAME>_API_KEY.
KEY_NAMES: dict[str, str | None] = {
    "searxng": "SEARXNG_API_KEY",  # optional: most instances need none
    "duckduckgo": None,
    "tavily": "TAVILY_API_KEY",
    "brave": "BRAVE_API_KEY",
    "exa_ai": "EXA_API_KEY",
    "perplexity": "PERPLEXITYAI_API_KEY",
    "google_pse": "GOOGLE_PSE_API_KEY",
    "firecrawl": "FIRECRAWL_API_KEY",
    "parallel_ai": "PARALLEL_AI_API_KEY",
    "linkup": "LINKUP_API_KEY",
    "dataforseo": "DATAFORSEO_PASSWORD",  # with DATAFORSEO_LOGIN in the environment
    "fastcrw": "CRW_API_KEY",
    "you_com": "YOUCOM_API_KEY",
}
# Providers that answer without a key.
KEYLESS = {"searxng", "duckduckgo"}
# Spellings people use for litellm's provider names.
ALIASES = {"exa": "exa_ai", "google": "google_pse", "ddg": "duckduckgo", "searx": "searxng",
           "parallel": "parallel_ai"}


class SearchError(PodiumError):
    """A search failed (unreachable provider, rejected key, bad answer): the agent is told why."""


class SearchConfig(BaseModel):
    """The configured search provider: litellm's name for it, its endpoint, where the choice came from."""

    model_config = ConfigDict(frozen=True)

    provider: str
    api_base: str | None = None
    source: str  # "env PODIUM_SEARCH" or a podium.toml's path


class SearchHit(BaseModel):
    """One result as litellm's unified SearchResponse gives it."""

    model_config = ConfigDict(frozen=True)

    title: str = ""
    url: str
    snippet: str = ""
    date: str | None = None


def provider_name(value: str) -> str:
    name = value.strip().lower().replace("-", "_")
    return ALIASES.get(name, name)


def resolve_search(project: Path | None = None) -> SearchConfig | None:
    """The search provider configured for a project (its file's folder), or None.
    ModelConfigError: a podium.toml that does not parse or holds a bad value."""
    files = config_files(project)
    chosen = first_setting(SEARCH_ENV, "search", files)
    if chosen is None:
        return None
    provider, source = provider_name(chosen[0]), chosen[1]
    api_base = os.environ.get(SEARCH_API_BASE_ENV, "").strip() or None
    if api_base is None:
        for _, data in files:
            named = data.get("search")
            if data.get("search_api_base") and (not named or provider_name(str(named)) == provider):
                api_base = str(data["search_api_base"])
                break
    if provider == "searxng" and api_base is None and not os.environ.get("SEARXNG_API_BASE"):
        raise ModelConfigError(
            f"search provider searxng ({source}) needs its instance's URL: set search_api_base in "
            f"podium.toml or ${SEARCH_API_BASE_ENV}")
    return SearchConfig(provider=provider, api_base=api_base, source=source)


def key_name(provider: str) -> str | None:
    return KEY_NAMES.get(provider, f"{provider.upper()}_API_KEY")


async def web_search(config: SearchConfig, query: str, max_results: int = 5) -> list[SearchHit]:
    """One search through litellm; SearchError with a one-line reason when it fails."""
    from podium.llm import _litellm

    name = key_name(config.provider)
    api_key = find_secret(name)[0] if name else None
    if api_key is None and name and config.provider not in KEYLESS:
        raise SearchError(f"web search via {config.provider} needs {name}: set it in the environment or "
                          f"with `podium vault set {name}`")
    # The import (about 3 s the first time) and litellm's set-up stay off the event loop.
    litellm = await asyncio.to_thread(_litellm.get)
    try:
        response = await asyncio.wait_for(
            litellm.asearch(query=query, search_provider=config.provider, api_key=api_key,
                            api_base=config.api_base, max_results=max_results, timeout=TIMEOUT_S),
            TIMEOUT_S + 5)
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        raise SearchError(f"web search via {config.provider} timed out after {TIMEOUT_S:g}s") from None
    except Exception as exc:  # litellm maps provider failures to many types: one line for the agent
        raise SearchError(f"web search via {config.provider} failed: {_first_line(exc)}") from None
    hits = []
    for item in list(getattr(response, "results", None) or [])[:max_results]:
        url = str(getattr(item, "url", "") or "")
        if url:
            hits.append(SearchHit(title=str(getattr(item, "title", "") or ""), url=url,
                                  snippet=str(getattr(item, "snippet", "") or ""),
                                  date=getattr(item, "date", None)))
    return hits


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text.removeprefix("litellm.")[:300]
