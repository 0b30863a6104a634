"""Runs started on the user's own folder (`--workspace PATH`): where their workspace came from
(a git worktree on a branch, or a copy), the base it is diffed against, the diff last shown and
whether it was applied. Each change is written with its `workspace.changed` event."""

from __future__ import annotations

import json
import time
from typing import Any

from podium import events as ev
from podium.domain import RunWorkspace
from podium.store.project import ProjectStore, Tx


class RunWorkspaceRepository:
    def __init__(self, store: ProjectStore) -> None:
        self.store = store

    async def add(self, ws: RunWorkspace) -> None:
        def write(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO run_workspaces (execution_id, kind, source, path, base_commit, branch, git_dir,"
                " manifest_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (ws.execution_id, ws.kind, ws.source, ws.path, ws.base_commit, ws.branch, ws.git_dir,
                 json.dumps(ws.manifest), ws.created_at, ws.created_at),
            ).close()
            tx.emit(ev.WORKSPACE_CHANGED, ws.execution_id, action="attached", kind=ws.kind, source=ws.source,
                    branch=ws.branch, commit=ws.base_commit)

        await self.store.write(write)

    async def get(self, run_id: str) -> RunWorkspace | None:
        if not await self.store.has_table("run_workspaces"):  # an archive from before v6
            return None
        row = await self.store.query_one("SELECT * FROM run_workspaces WHERE execution_id = ?", (run_id,))
        return None if row is None else _workspace(row)

    async def remade(self, ws: RunWorkspace, git_dir: str | None) -> None:
        """Made again (a resumed run whose folder went missing); a worktree's git folder may differ."""

        def write(tx: Tx) -> None:
            tx.execute("UPDATE run_workspaces SET git_dir = ?, updated_at = ? WHERE execution_id = ?",
                       (git_dir, time.time(), ws.execution_id)).close()
            tx.emit(ev.WORKSPACE_CHANGED, ws.execution_id, action="remade", kind=ws.kind, source=ws.source,
                    branch=ws.branch, commit=ws.head_commit or ws.base_commit)

        await self.store.write(write)

    async def committed(self, ws: RunWorkspace, head: str, diff: str, files: list[str]) -> None:
        """The agents' changes as of now: the head commit, its diff and its files."""

        def write(tx: Tx) -> None:
            cur = tx.execute("SELECT head_commit, diff FROM run_workspaces WHERE execution_id = ?",
                             (ws.execution_id,))
            before = cur.fetchone()
            cur.close()
            if before is not None and before[0] == head and before[1] == diff:
                return  # shown again, unchanged: no new row, no event
            tx.execute("UPDATE run_workspaces SET head_commit = ?, diff = ?, files_json = ?, updated_at = ?"
                       " WHERE execution_id = ?",
                       (head, diff, json.dumps(files), time.time(), ws.execution_id)).close()
            tx.emit(ev.WORKSPACE_CHANGED, ws.execution_id, action="committed", kind=ws.kind,
                    source=ws.source, branch=ws.branch, commit=head, files=len(files))

        await self.store.write(write)

    async def applied(self, ws: RunWorkspace, head: str, to: str, note: str, files: int,
                      manifest: dict[str, str] | None = None) -> None:
        """Applied to the user's branch or folder; `manifest`: a folder's file hashes as written."""

        def write(tx: Tx) -> None:
            tx.execute("UPDATE run_workspaces SET applied_at = ?, applied_to = ?, updated_at = ?"
                       " WHERE execution_id = ?", (time.time(), to, time.time(), ws.execution_id)).close()
            if manifest is not None:
                tx.execute("UPDATE run_workspaces SET manifest_json = ? WHERE execution_id = ?",
                           (json.dumps(manifest), ws.execution_id)).close()
            tx.emit(ev.WORKSPACE_CHANGED, ws.execution_id, action="applied", kind=ws.kind, source=ws.source,
                    branch=ws.branch, commit=head, files=files, to=to, note=note)

        await self.store.write(write)


def _workspace(row: Any) -> RunWorkspace:
    return RunWorkspace(
        execution_id=row["execution_id"], kind=row["kind"], source=row["source"], path=row["path"],
        base_commit=row["base_commit"], branch=row["branch"], git_dir=row["git_dir"],
        head_commit=row["head_commit"], diff=row["diff"], files=json.loads(row["files_json"] or "[]"),
        manifest=json.loads(row["manifest_json"] or "{}"), applied_at=row["applied_at"],
        applied_to=row["applied_to"], created_at=row["created_at"],
    )
