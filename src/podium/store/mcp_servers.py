"""MCP servers registered in the project file: settings and the cached tool listing.

Secrets are vault names, never values. Each change is written with its
`mcp.server` event in one transaction. Validation of the settings is the
tools layer's (tools.mcp_registry.MCPServerConfig).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from podium import events
from podium.errors import NotFoundError, PodiumError
from podium.store.project import ProjectStore, Tx


@dataclass(frozen=True)
class MCPServerRecord:
    name: str
    transport: str
    command: str | None = None
    args: list[str] = field(default_factory=list)
    url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    cwd: str | None = None
    timeout_s: float = 30.0
    tools: list[dict[str, Any]] | None = None  # the last listing, None: never listed


class MCPServerRepository:
    def __init__(self, store: ProjectStore) -> None:
        self.store = store

    async def enabled(self) -> list[MCPServerRecord]:
        """The servers agents may use, by name."""
        rows = await self.store.query("SELECT * FROM mcp_servers WHERE enabled = 1 ORDER BY name")
        return [_record(r) for r in rows]

    async def get(self, name: str) -> MCPServerRecord:
        row = await self.store.query_one("SELECT * FROM mcp_servers WHERE name = ?", (name,))
        if row is None:
            raise NotFoundError(f"no MCP server named {name!r} (see `podium mcp list`)")
        return _record(row)

    async def add(self, server: MCPServerRecord, *, replace: bool = False) -> None:
        """Register a server (its listing is forgotten); an existing name needs `replace`."""

        def write(tx: Tx) -> None:
            exists = tx.execute("SELECT 1 FROM mcp_servers WHERE name = ?", (server.name,)).fetchone()
            if exists and not replace:
                raise PodiumError(f"an MCP server named {server.name!r} exists; pass --replace to change it")
            tx.execute("DELETE FROM mcp_servers WHERE name = ?", (server.name,)).close()
            tx.execute(
                "INSERT INTO mcp_servers (name, transport, command, args_json, url, env_json, secrets_json,"
                " cwd, timeout_s, tools_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                (server.name, server.transport, server.command, json.dumps(server.args), server.url,
                 json.dumps(server.env), json.dumps(server.secrets), server.cwd, server.timeout_s,
                 time.time()),
            ).close()
            tx.emit(events.MCP_SERVER_CHANGED, None, name=server.name, action="added",
                    transport=server.transport)

        await self.store.write(write)

    async def remove(self, name: str) -> None:
        def write(tx: Tx) -> None:
            cur = tx.execute("DELETE FROM mcp_servers WHERE name = ?", (name,))
            if cur.rowcount == 0:
                raise NotFoundError(f"no MCP server named {name!r} (see `podium mcp list`)")
            cur.close()
            tx.emit(events.MCP_SERVER_CHANGED, None, name=name, action="removed")

        await self.store.write(write)

    async def cache_tools(self, name: str, tools: list[dict[str, Any]]) -> None:
        """Remember a server's tool listing; nothing on a read-only file."""
        if self.store.readonly:
            return

        def write(tx: Tx) -> None:
            tx.execute(
                "UPDATE mcp_servers SET tools_json = ? WHERE name = ?", (json.dumps(tools), name)
            ).close()
            tx.emit(events.MCP_SERVER_CHANGED, None, name=name, action="listed", tools=len(tools))

        await self.store.write(write)


def _record(row: Any) -> MCPServerRecord:
    return MCPServerRecord(
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
