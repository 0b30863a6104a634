"""Proposals to change a running plan: an agent's new subtask, the leader's replan.

A proposal is made pending (the leader or a person decides), or accepted at once
(the run's policy says so) in the same transaction as the graph change it asks
for (store/plan_changes.py `apply_batch`). Declining changes no graph. Every
decision records who made it and why, with a `proposal.decided` event.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from podium import events as ev
from podium.domain import PlanChange, Proposal, ProposalKind, ProposalStatus
from podium.errors import PodiumError
from podium.store.project import ProjectStore, Tx


@dataclass
class NewProposal:
    kind: ProposalKind
    proposed_by: str
    changes: list[PlanChange]
    summary: str  # one line, for the event
    reason: str = ""
    from_subtask: str | None = None


@dataclass
class ProposalAcceptance:
    """A proposal accepted with the graph change it asks for: an existing pending one (`number`),
    or `new`, made and accepted at once."""

    by: str  # the leader, a person ("user"), or "auto"
    reason: str = ""
    number: int | None = None
    new: NewProposal | None = None


def _next_number(tx: Tx, run_id: str) -> int:
    row = tx.execute("SELECT coalesce(max(number), 0) + 1 FROM proposals WHERE execution_id = ?",
                     (run_id,)).fetchone()
    return int(row[0])


def _insert(tx: Tx, run_id: str, new: NewProposal, status: ProposalStatus) -> int:
    number = _next_number(tx, run_id)
    tx.execute("INSERT INTO proposals (execution_id, number, kind, proposed_by, from_subtask, changes_json,"
               " reason, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (run_id, number, new.kind.value, new.proposed_by, new.from_subtask,
                json.dumps([c.model_dump(mode="json", exclude_none=True) for c in new.changes]),
                new.reason, status.value, time.time())).close()
    tx.emit(ev.PROPOSAL_MADE, run_id, number=number, kind=new.kind.value, by=new.proposed_by,
            subtask_id=new.from_subtask, summary=new.summary, reason=new.reason, status=status.value)
    return number


def _decide(tx: Tx, run_id: str, number: int, status: ProposalStatus, by: str, reason: str,
            version: int | None) -> None:
    row = tx.execute("SELECT kind, status FROM proposals WHERE execution_id = ? AND number = ?",
                     (run_id, number)).fetchone()
    if row is None:
        raise PodiumError(f"run {run_id} has no proposal {number}")
    if row[1] != ProposalStatus.PENDING.value:
        raise PodiumError(f"proposal {number} was already {row[1]}")
    tx.execute("UPDATE proposals SET status = ?, decided_by = ?, decision = ?, version = ?, decided_at = ?"
               " WHERE execution_id = ? AND number = ?",
               (status.value, by, reason, version, time.time(), run_id, number)).close()
    tx.emit(ev.PROPOSAL_DECIDED, run_id, number=number, kind=row[0], decision=status.value, by=by,
            reason=reason, version=version)


def accept_proposal(tx: Tx, run_id: str, accepted: ProposalAcceptance, version: int) -> int:
    """Within a graph change's transaction: the proposal is accepted; returns its number."""
    number = accepted.number
    if number is None:
        assert accepted.new is not None
        number = _insert(tx, run_id, accepted.new, ProposalStatus.PENDING)
    _decide(tx, run_id, number, ProposalStatus.ACCEPTED, accepted.by, accepted.reason, version)
    return number


class ProposalRepository:
    def __init__(self, store: ProjectStore) -> None:
        self.store = store

    async def add(self, run_id: str, new: NewProposal) -> int:
        """A pending proposal; returns its number."""
        return await self.store.write(lambda tx: _insert(tx, run_id, new, ProposalStatus.PENDING))

    async def add_declined(self, run_id: str, new: NewProposal, *, by: str, reason: str) -> int:
        def write(tx: Tx) -> int:
            number = _insert(tx, run_id, new, ProposalStatus.PENDING)
            _decide(tx, run_id, number, ProposalStatus.DECLINED, by, reason, None)
            return number

        return await self.store.write(write)

    async def decline(self, run_id: str, number: int, *, by: str, reason: str) -> None:
        await self.store.write(lambda tx: _decide(tx, run_id, number, ProposalStatus.DECLINED, by, reason,
                                                  None))

    async def count(self, run_id: str, kind: ProposalKind) -> int:
        row = await self.store.query_one("SELECT count(*) FROM proposals WHERE execution_id = ? AND kind = ?",
                                         (run_id, kind.value))
        return int(row[0]) if row else 0

    async def list(self, run_id: str, status: ProposalStatus | None = None) -> list[Proposal]:
        sql = "SELECT * FROM proposals WHERE execution_id = ?"
        params: list[object] = [run_id]
        if status is not None:
            sql += " AND status = ?"
            params.append(status.value)
        return [_proposal(r) for r in await self.store.query(sql + " ORDER BY number", params)]

    async def get(self, run_id: str, number: int) -> Proposal:
        row = await self.store.query_one("SELECT * FROM proposals WHERE execution_id = ? AND number = ?",
                                         (run_id, number))
        if row is None:
            raise PodiumError(f"run {run_id} has no proposal {number} (`podium task proposals {run_id}` "
                              "lists them)")
        return _proposal(row)


def _proposal(row: Any) -> Proposal:
    return Proposal(number=row["number"], kind=ProposalKind(row["kind"]), proposed_by=row["proposed_by"],
                    from_subtask=row["from_subtask"],
                    changes=[PlanChange.model_validate(c) for c in json.loads(row["changes_json"])],
                    reason=row["reason"], status=ProposalStatus(row["status"]), decided_by=row["decided_by"],
                    decision=row["decision"], version=row["version"], created_at=row["created_at"])
