"""MCP servers registered in the project file (settings only; secrets by vault name)."""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from podium import events
from podium.errors import NotFoundError, PodiumError
from podium.store import ProjectStore, Tx
from podium.tools.vault import NAME_RE

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


def _from_row(row: Any) -> MCPServerConfig:
    return MCPServerConfig(
        name=row["name"],
        transport=row["transport"],
        command=row["command"],
        args=json.loads(row["args_json"]),
        url=row["url"],
        env=json.loads(row["env_json"]),
        secrets=json.loads(row["secrets_json"]),
        cwd=row["cwd"],
        timeout_s=row["timeout_s"],
        tools=json.loads(row["tools_json"]) if row["tools_json"] else None,
    )


async def list_servers(store: ProjectStore) -> list[MCPServerConfig]:
    rows = await store.query("SELECT * FROM mcp_servers WHERE enabled = 1 ORDER BY name")
    return [_from_row(r) for r in rows]


async def get_server(store: ProjectStore, name: str) -> MCPServerConfig:
    row = await store.query_one("SELECT * FROM mcp_servers WHERE name = ?", (name,))
    if row is None:
        raise NotFoundError(f"no MCP server named {name!r} (see `podium mcp list`)")
    return _from_row(row)


async def add_server(store: ProjectStore, config: MCPServerConfig, *, replace: bool = False) -> None:
    def write(tx: Tx) -> None:
        exists = tx.execute("SELECT 1 FROM mcp_servers WHERE name = ?", (config.name,)).fetchone()
        if exists and not replace:
            raise PodiumError(f"an MCP server named {config.name!r} exists; pass --replace to change it")
        tx.execute("DELETE FROM mcp_servers WHERE name = ?", (config.name,))
        tx.execute(
            "INSERT INTO mcp_servers (name, transport, command, args_json, url, env_json, secrets_json,"
            " cwd, timeout_s, tools_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
            (
                config.name,
                config.transport,
                config.command,
                json.dumps(config.args),
                config.url,
                json.dumps(config.env),
                json.dumps(config.secrets),
                config.cwd,
                config.timeout_s,
                time.time(),
            ),
        )
        tx.emit(events.MCP_SERVER_CHANGED, None, name=config.name, action="added", transport=config.transport)

    await store.write(write)


async def remove_server(store: ProjectStore, name: str) -> None:
    def write(tx: Tx) -> None:
        cur = tx.execute("DELETE FROM mcp_servers WHERE name = ?", (name,))
        if cur.rowcount == 0:
            raise NotFoundError(f"no MCP server named {name!r} (see `podium mcp list`)")
        tx.emit(events.MCP_SERVER_CHANGED, None, name=name, action="removed")

    await store.write(write)


async def cache_tools(store: ProjectStore, name: str, tools: list[dict[str, Any]]) -> None:
    """Remember a server's tool listing so `podium tools` can show it without starting it."""
    if store.readonly:
        return

    def write(tx: Tx) -> None:
        tx.execute("UPDATE mcp_servers SET tools_json = ? WHERE name = ?", (json.dumps(tools), name))
        tx.emit(events.MCP_SERVER_CHANGED, None, name=name, action="listed", tools=len(tools))

    await store.write(write)
