"""MCP servers registered in the project file (settings only; secrets by vault name)."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from podium.secrets.vault import NAME_RE
from podium.store import ProjectStore
from podium.store.mcp_servers import MCPServerRecord, MCPServerRepository

SERVER_NAME = r"^[a-z][a-z0-9-]{0,31}$"
# Namespaced tool names are SERVER__TOOL: OpenAI-style names allow only [A-Za-z0-9_-].
SEPARATOR = "__"


def namespaced(server: str, tool: str) -> str:
    """The name agents see for a server's tool."""
    safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in tool)
    return f"{server}{SEPARATOR}{safe}"[:64]


def namespaced_tools(server: str, tools: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(namespaced(server, t["name"]), t) for t in tools]


class MCPServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    transport: Literal["stdio", "http"]
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    url: str | None = None
    env: dict[str, str] = Field(default_factory=dict)  # plain settings, never secrets
    secrets: list[str] = Field(default_factory=list)  # vault names
    cwd: str | None = None
    timeout_s: float = Field(default=30.0, gt=0, le=3600)
    tools: list[dict[str, Any]] | None = (
        None  # cached listing: [{name, description, input_schema, read_only}]
    )

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, name: str) -> str:
        import re

        if not isinstance(name, str) or not re.match(SERVER_NAME, name):
            raise ValueError(
                f"server name {name!r} must be lower-case letters, digits and dashes, "
                "starting with a letter (at most 32)"
            )
        return name

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, names: list[str]) -> list[str]:
        for n in names:
            if not NAME_RE.match(n):
                raise ValueError(f"bad secret name {n!r}")
        return names

    @model_validator(mode="after")
    def _shape(self) -> MCPServerConfig:
        if self.transport == "stdio" and not self.command:
            raise ValueError("a stdio server needs a command")
        if self.transport == "http":
            if not self.url or not self.url.startswith(("http://", "https://")):
                raise ValueError("an HTTP server needs a --url starting with http:// or https://")
            if "@" in self.url.split("//", 1)[1].split("/", 1)[0]:
                raise ValueError("put credentials in the vault (--secret), not in the URL")
        return self

    def describe(self) -> str:
        where = self.url if self.transport == "http" else " ".join([self.command or "", *self.args])
        secrets = f"  secrets: {', '.join(self.secrets)}" if self.secrets else ""
        return f"{self.name:<16} {self.transport:<6} {where}{secrets}"


def _config(record: MCPServerRecord) -> MCPServerConfig:
    return MCPServerConfig(**dataclasses.asdict(record))


def _record(config: MCPServerConfig) -> MCPServerRecord:
    return MCPServerRecord(
        name=config.name, transport=config.transport, command=config.command, args=list(config.args),
        url=config.url, env=dict(config.env), secrets=list(config.secrets), cwd=config.cwd,
        timeout_s=config.timeout_s, tools=config.tools,
    )


async def list_servers(store: ProjectStore) -> list[MCPServerConfig]:
    return [_config(r) for r in await MCPServerRepository(store).enabled()]


async def get_server(store: ProjectStore, name: str) -> MCPServerConfig:
    return _config(await MCPServerRepository(store).get(name))


async def add_server(store: ProjectStore, config: MCPServerConfig, *, replace: bool = False) -> None:
    await MCPServerRepository(store).add(_record(config), replace=replace)


async def remove_server(store: ProjectStore, name: str) -> None:
    await MCPServerRepository(store).remove(name)


async def cache_tools(store: ProjectStore, name: str, tools: list[dict[str, Any]]) -> None:
    """Remember a server's tool listing so `podium tools` can show it without starting it."""
    await MCPServerRepository(store).cache_tools(name, tools)
