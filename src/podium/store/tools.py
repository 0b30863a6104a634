"""Tool calls as the project file holds them: the files a run's tools wrote, the
`tool.called` events, and the tool lists of a run's agents.

A call's workspace files are written with its event in one transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, Protocol

from podium import events
from podium.domain import WorkspaceFile
from podium.errors import NotFoundError
from podium.store.project import ProjectStore, Tx


class FileData(Protocol):
    """A file a tool wrote, as read from the workspace (tools.workspace.FileRecord)."""

    @property
    def path(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def is_text(self) -> bool: ...
    @property
    def content(self) -> bytes | None: ...  # None: too large to keep


class ToolRepository:
    def __init__(self, store: ProjectStore) -> None:
        self.store = store

    async def record_call(
        self, execution_id: str | None, *, subtask_id: str | None, agent: str, tool: str,
        files: Sequence[FileData], payload: dict[str, Any], approval_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """The `tool.called` event (`payload`, plus the files stored and the approval), and
        the files the call wrote, in one transaction. Files are kept only for a run this
        file holds. Returns the files stored: path, sha256, size."""

        def write(tx: Tx) -> list[dict[str, Any]]:
            run_exists = execution_id is not None and _run_exists(tx.conn, execution_id)
            stored = []
            for f in files if run_exists else []:
                tx.execute(
                    "INSERT INTO workspace_files (execution_id, path, sha256, size, is_text, content,"
                    " subtask_id, agent, tool, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT(execution_id, path) DO UPDATE SET sha256 = excluded.sha256,"
                    " size = excluded.size, is_text = excluded.is_text, content = excluded.content,"
                    " subtask_id = excluded.subtask_id, agent = excluded.agent, tool = excluded.tool,"
                    " updated_at = excluded.updated_at",
                    (execution_id, f.path, f.sha256, f.size, int(f.is_text), f.content, subtask_id, agent,
                     tool, time.time()),
                ).close()
                stored.append({"path": f.path, "sha256": f.sha256, "size": f.size})
            event = dict(payload)
            if stored:
                event["files"] = stored
            if approval_id is not None:
                event["approval_id"] = approval_id
            tx.emit(events.TOOL_CALLED, execution_id, **event)
            return stored

        return await self.store.write(write)

    async def agent_tools(self, execution_id: str, agent: str) -> list[str]:
        """The `tools` list of `agent` in the team stored with the run; [] when the run,
        the agent or a readable list is missing."""
        row = await self.store.query_one("SELECT team_json FROM executions WHERE id = ?", (execution_id,))
        tools: list[str] = []
        try:
            team = json.loads(row["team_json"]) if row is not None else {}
            for member in team.get("agents", []):
                if member.get("name") == agent:
                    tools = [str(t) for t in member.get("tools") or []]
        except (ValueError, AttributeError, TypeError):
            tools = []
        return tools

    async def workspace_files(self, execution_id: str) -> list[WorkspaceFile]:
        """A run's stored files by path; NotFoundError for a run this file does not hold."""

        def read(conn: Any) -> list[WorkspaceFile]:
            if not _run_exists(conn, execution_id):
                raise NotFoundError(f"no run {execution_id!r} in {self.store.path}")
            cur = conn.execute(
                "SELECT * FROM workspace_files WHERE execution_id = ? ORDER BY path", (execution_id,)
            )
            try:
                return [_file(r) for r in cur.fetchall()]
            finally:
                cur.close()

        return await self.store.run(read)


def _run_exists(conn: Any, execution_id: str) -> bool:
    cur = conn.execute("SELECT 1 FROM executions WHERE id = ?", (execution_id,))
    try:
        return cur.fetchone() is not None
    finally:
        cur.close()


def _file(row: Any) -> WorkspaceFile:
    content = row["content"]
    return WorkspaceFile(
        path=row["path"],
        sha256=row["sha256"],
        size=row["size"],
        is_text=bool(row["is_text"]),
        content=bytes(content) if content is not None else None,
        subtask_id=row["subtask_id"],
        agent=row["agent"],
        tool=row["tool"],
        updated_at=row["updated_at"],
    )
