"""Tool approvals as the project file holds them: the `tool_approvals` rows and their events.

Each change is one transaction: the row, its event, and the waiting subtask's move
(through `runs.move_waiting_subtask`, the one writer of subtask status): asking moves a
running subtask to needs-help, the last decision on it moves it back to running.
Policies and the awaitable requests live in `tools/approvals.py`; the SQL lives here.
"""

from __future__ import annotations

import json
import time
from typing import Any

from podium import events
from podium.domain import ApprovalRecord, SubtaskStatus
from podium.errors import NotFoundError, PodiumError
from podium.store.project import ProjectStore, Tx
from podium.store.runs import move_waiting_subtask


def _record(row: Any) -> ApprovalRecord:
    return ApprovalRecord(
        id=row["id"],
        execution_id=row["execution_id"],
        subtask_id=row["subtask_id"],
        agent=row["agent"],
        tool=row["tool"],
        arguments=json.loads(row["arguments"]),
        status=row["status"],
        decided_by=row["decided_by"],
        reason=row["reason"],
        created_at=row["created_at"],
        decided_at=row["decided_at"],
    )


class ApprovalRepository:
    def __init__(self, store: ProjectStore) -> None:
        self.store = store

    async def create(
        self, *, execution_id: str | None, subtask_id: str | None, agent: str, tool: str,
        arguments: dict[str, Any],
    ) -> ApprovalRecord:
        """A pending request with its event; a running subtask waits on it (needs help)."""

        def write(tx: Tx) -> ApprovalRecord:
            now = time.time()
            cur = tx.execute(
                "INSERT INTO tool_approvals (execution_id, subtask_id, agent, tool, arguments, status,"
                " created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?)",
                (execution_id, subtask_id, agent, tool, json.dumps(arguments), now),
            )
            rid = cur.lastrowid
            assert rid is not None  # an INSERT always has one
            tx.emit(events.TOOL_APPROVAL_REQUESTED, execution_id, id=rid, subtask_id=subtask_id,
                    agent=agent, tool=tool, arguments=arguments)
            move_waiting_subtask(tx, execution_id, subtask_id, SubtaskStatus.NEEDS_HELP,
                                 only_from=SubtaskStatus.RUNNING, reason=f"waiting for approval of {tool}")
            return ApprovalRecord(id=rid, execution_id=execution_id, subtask_id=subtask_id, agent=agent,
                                  tool=tool, arguments=arguments, status="pending", created_at=now)

        return await self.store.write(write)

    async def get(self, approval_id: int) -> ApprovalRecord | None:
        row = await self.store.query_one("SELECT * FROM tool_approvals WHERE id = ?", (approval_id,))
        return _record(row) if row is not None else None

    async def decide(self, approval_id: int, approved: bool, *, by: str, reason: str | None = None,
                     resume_subtask: bool = True) -> ApprovalRecord:
        """Record a decision on a pending request (from any process); the waiting subtask goes back
        to running unless `resume_subtask` is False. NotFoundError / PodiumError: nothing written."""

        def write(tx: Tx) -> ApprovalRecord:
            row = tx.execute("SELECT * FROM tool_approvals WHERE id = ?", (approval_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no tool approval #{approval_id}")
            if row["status"] != "pending":
                raise PodiumError(
                    f"tool approval #{approval_id} was already {row['status']} by {row['decided_by']}")
            return _decide_row(tx, row, approved, by=by, reason=reason, resume_subtask=resume_subtask)

        return await self.store.write(write)

    async def deny_pending(self, execution_id: str, *, by: str, reason: str) -> list[ApprovalRecord]:
        """Deny every request still pending in a run, each with its event, in one transaction;
        subtasks are left alone."""

        def write(tx: Tx) -> list[ApprovalRecord]:
            rows = tx.execute(
                "SELECT * FROM tool_approvals WHERE execution_id = ? AND status = 'pending' ORDER BY id",
                (execution_id,),
            ).fetchall()
            return [_decide_row(tx, row, False, by=by, reason=reason, resume_subtask=False) for row in rows]

        return await self.store.write(write)

    async def select(self, execution_id: str | None = None, *, pending_only: bool = False
                   ) -> list[ApprovalRecord]:
        sql = "SELECT * FROM tool_approvals WHERE 1=1"
        params: list[Any] = []
        if execution_id is not None:
            sql += " AND execution_id = ?"
            params.append(execution_id)
        if pending_only:
            sql += " AND status = 'pending'"
        return [_record(r) for r in await self.store.query(sql + " ORDER BY id", params)]

    async def answers_since(self, execution_id: str, subtask_id: str, since: float) -> list[str]:
        """The help answers (`podium answer`, the TUI) given to a subtask since `since`, oldest first."""
        rows = await self.store.query(
            "SELECT text FROM interventions WHERE execution_id = ? AND subtask_id = ? AND kind = 'answer'"
            " AND created_at >= ? ORDER BY id",
            (execution_id, subtask_id, since),
        )
        return [row["text"] or "" for row in rows]


def _decide_row(tx: Tx, row: Any, approved: bool, *, by: str, reason: str | None,
                resume_subtask: bool) -> ApprovalRecord:
    approval_id = row["id"]
    status = "approved" if approved else "denied"
    now = time.time()
    tx.execute(
        "UPDATE tool_approvals SET status = ?, decided_by = ?, reason = ?, decided_at = ? WHERE id = ?",
        (status, by, reason, now, approval_id),
    )
    tx.emit(events.TOOL_APPROVAL_DECIDED, row["execution_id"], id=approval_id, subtask_id=row["subtask_id"],
            agent=row["agent"], tool=row["tool"], approved=approved, by=by, reason=reason)
    still_waiting = tx.execute(
        "SELECT 1 FROM tool_approvals WHERE execution_id IS ? AND subtask_id IS ? AND status = 'pending'",
        (row["execution_id"], row["subtask_id"]),
    ).fetchone()
    if resume_subtask and not still_waiting:
        move_waiting_subtask(tx, row["execution_id"], row["subtask_id"], SubtaskStatus.RUNNING,
                             only_from=SubtaskStatus.NEEDS_HELP, reason=f"{row['tool']} {status} by {by}")
    return _record({**dict(row), "status": status, "decided_by": by, "reason": reason, "decided_at": now})
