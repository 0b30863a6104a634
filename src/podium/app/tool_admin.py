"""The project's tools, for the front ends: the catalogue, approval policies, MCP servers and the
files a run's tools wrote (`podium tools`, `podium mcp ...`, `podium workspace`).

Front ends reach the tool box and the tool registries only through here (an import-linter
contract keeps `tools` and `store` out of the CLI and the TUI); answers are domain models or the
small records below. Deciding a waiting tool call is a session use case (`decide_tool`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from podium.domain import Team, WorkspaceFile, url_has_secret
from podium.errors import PodiumError
from podium.store import ProjectStore
from podium.tools import approvals, files, mcp_registry
from podium.tools.mcp_registry import MCPServerConfig
from podium.tools.toolbox import ToolBox
from podium.tools.types import Policy, ToolError

POLICY_CHOICES = ("always", "ask", "never", "default")


class ToolRow(BaseModel):
    """One tool as `podium tools` lists it."""

    name: str
    source: str  # "builtin" or "mcp:SERVER"
    policy: str  # always | ask | never
    agents: str  # "all", "none", or the names of the team's agents that may use it
    description: str


class ToolCatalogue(BaseModel):
    """Every tool agents can be given, and the MCP servers whose tools are not listed yet."""

    tools: list[ToolRow]
    unlisted_servers: list[str]
    errors: dict[str, str]  # server -> why it did not start
    # web_search: which provider and where the choice came from, or why there is none.
    search: str = "off: no search provider configured (search = ... in podium.toml)"
    # generate_image: which model, where, and where the choice came from, or why there is none.
    images: str = "off: no image model configured (image_model = ... in podium.toml)"


class ServerProbe(BaseModel):
    """An MCP server started once: its tools (as agents see them), or why it did not start."""

    server: str
    seconds: float = 0.0
    tools: list[dict[str, Any]] = []
    names: list[str] = []  # the namespaced names agents see, one per tool
    error: str | None = None


def policy_choice(text: str) -> Policy | None:
    """A policy as typed (always, ask, never; default: None, the override removed). PodiumError
    for anything else, checked before the project is opened: bad input writes nothing."""
    choice = text.strip().lower()
    if choice not in POLICY_CHOICES:
        raise PodiumError(f"policy must be always, ask, never or default, not {text!r}")
    return None if choice == "default" else Policy(choice)


def server_config(**fields: Any) -> MCPServerConfig:
    """An MCP server's settings, checked; PodiumError with every problem in one line."""
    try:
        return MCPServerConfig(**fields)
    except ValidationError as exc:
        problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise PodiumError(f"bad MCP server settings: {problems}") from None


def export_files(found: list[WorkspaceFile], dest: Path, *, force: bool = False
                 ) -> tuple[list[str], list[str]]:
    """Write a run's files under `dest`: (written, skipped with the reason)."""
    return files.export_files(found, dest, force=force)


class ToolAdmin:
    """The tools side of a project session (`session.tool_admin`), over one open store."""

    def __init__(self, store: ProjectStore) -> None:
        self.store = store

    async def catalogue(self, team: Team | None = None, *, start_servers: bool = False) -> ToolCatalogue:
        """Built-in and MCP tools with their policies; with `team`, which of its agents may use each.
        `start_servers`: start every MCP server to list its tools now (stopped again after)."""
        box = ToolBox(self.store)
        try:
            infos = await box.tools(start_servers=start_servers)
            errors = {name: box.start_error(name) or "" for name in box.servers}
            unlisted = [n for n, s in box.servers.items() if not s.tools]
            search = _search_line(box)
            images = _image_line(box)
        finally:
            await box.aclose()
        rows = []
        for info in infos:
            agents = "all"
            if team is not None:
                names = [a.name for a in team.agents if ToolBox.allowed(a.tools, info)]
                agents = "all" if len(names) == len(team.agents) else ", ".join(names) or "none"
            rows.append(ToolRow(name=info.name, source=info.source, policy=info.policy.value, agents=agents,
                                description=info.description))
        return ToolCatalogue(tools=rows, unlisted_servers=unlisted,
                             errors={name: why for name, why in errors.items() if why}, search=search,
                             images=images)

    async def set_policy(self, pattern: str, policy: Policy | None) -> None:
        """Override a tool's (or a glob's) approval policy; None removes the override."""
        await approvals.set_policy(self.store, pattern, policy)

    # ------------------------------------------------------------ MCP servers

    async def servers(self) -> list[MCPServerConfig]:
        return await mcp_registry.list_servers(self.store)

    async def add_server(self, config: MCPServerConfig, *, replace: bool = False) -> None:
        await mcp_registry.add_server(self.store, config, replace=replace)

    async def remove_server(self, name: str) -> None:
        await mcp_registry.remove_server(self.store, name)

    async def probe(self, name: str, *, raise_errors: bool = False) -> ServerProbe:
        """Start a registered server once and cache its tools. A server that does not start:
        the probe says why, or with `raise_errors` a PodiumError. NotFoundError: no such server."""
        box = await ToolBox.open(self.store)
        try:
            await mcp_registry.get_server(self.store, name)
            start = time.perf_counter()
            tools = await box.start(name)
            seconds = time.perf_counter() - start
        except ToolError as exc:
            if raise_errors:
                raise PodiumError(str(exc)) from None
            return ServerProbe(server=name, error=str(exc))
        finally:
            await box.aclose()
        return ServerProbe(server=name, seconds=seconds, tools=tools,
                           names=[full for full, _ in mcp_registry.namespaced_tools(name, tools)])

    # ------------------------------------------------------------ a run's files

    async def workspace_files(self, run_id: str) -> list[WorkspaceFile]:
        """The files a run's tools wrote, by path; NotFoundError for a run the project does not hold."""
        return await files.list_files(self.store, run_id)


def _image_line(box: ToolBox) -> str:
    if box.image_error:
        return f"off: {box.image_error}"
    if box.image is None:
        return ToolCatalogue.model_fields["images"].default
    base = box.image.api_base
    # The endpoint may be the chat api_base, whose URL can carry a token: never printed then.
    where = f" at {base}" if base else ""
    if base and url_has_secret(base):
        where = " at an endpoint with credentials in its URL"
    offline = " (off now: PODIUM_OFFLINE is set)" if box.offline else ""
    return f"{box.image.model}{where}, from {box.image.source}{offline}"


def _search_line(box: ToolBox) -> str:
    if box.search_error:
        return f"off: {box.search_error}"
    if box.search is None:
        return ToolCatalogue.model_fields["search"].default
    where = f" at {box.search.api_base}" if box.search.api_base else ""
    offline = " (off now: PODIUM_OFFLINE is set)" if box.offline else ""
    return f"{box.search.provider}{where}, from {box.search.source}{offline}"
