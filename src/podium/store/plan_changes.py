"""Changes to an approved plan's live graph: one transaction each.

The subtasks table is the live graph. A change writes the subtask rows it
touches, each status move with its event (refused if a subtask is no longer
in the status the change was checked against), the next plan version (the
whole graph as it now stands, by its author) and one `plan.changed` event.
A change to a run that had ended with work left waiting re-opens it as
halted, so `podium resume` carries on from it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from podium import events as ev
from podium.domain import ExecutionStatus, Plan, PlanStatus, Subtask, SubtaskStatus
from podium.errors import PodiumError
from podium.store.project import ProjectStore, Tx
from podium.store.proposals import ProposalAcceptance, accept_proposal
from podium.store.runs import (
    _next_plan_version,
    _set_status,
    _status_of,
    _subtask_from,
    _subtask_status,
    lease_alive,
)


@dataclass(frozen=True)
class StatusMove:
    subtask_id: str
    expected: SubtaskStatus
    status: SubtaskStatus
    reason: str


@dataclass
class GraphWrite:
    """What to write for one change (built by orchestrator.plan_changes from its Effect)."""

    action: str
    subtask_id: str
    by: str
    source: str
    definition: Subtask | None = None
    insert: bool = False
    output: str | None = None
    moves: list[StatusMove] = field(default_factory=list)
    dependents: str | None = None
    note: str | None = None
    reset: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


class PlanChangeRepository:
    def __init__(self, store: ProjectStore) -> None:
        self.store = store

    async def apply(self, run_id: str, write: GraphWrite, *, driver: str | None,
                    reopen: str | None = None) -> int:
        """Write one change; returns the plan version it made.

        `driver`: the process driving the run that applies it (None: nobody drives it, and
        if a process took the run up meanwhile nothing is written). `reopen`: the reason a run
        that had ended goes back to halted."""
        return await self.apply_batch(run_id, [write], driver=driver, reopen=reopen)

    async def apply_batch(self, run_id: str, writes: list[GraphWrite], *, driver: str | None,
                          reopen: str | None = None, accepted: ProposalAcceptance | None = None) -> int:
        """Write several changes in one transaction (a replan, an accepted proposal) as one new
        plan version; with `accepted`, the proposal is recorded as accepted in the same
        transaction (an existing pending one, or a new one accepted at once), so a crash never
        leaves a change without its proposal's decision or the other way round."""

        def tx_write(tx: Tx) -> int:
            row = tx.execute("SELECT owner, heartbeat_at FROM executions WHERE id = ?",
                             (run_id,)).fetchone()
            if row is None:
                raise PodiumError(f"no run {run_id!r}")
            if driver is None and row[0] and lease_alive(row[0], row[1]):
                raise PodiumError(f"run {run_id} was just taken up by {row[0]}; nothing was changed, "
                                  "try again")
            version = _next_plan_version(tx, run_id)
            number = accept_proposal(tx, run_id, accepted, version) if accepted is not None else None
            author = writes[0].by if writes else "leader"
            for write in writes:
                _write_change(tx, run_id, write, version, number, accepted.by if accepted else None)
            rows = tx.execute("SELECT * FROM subtasks WHERE execution_id = ? ORDER BY position",
                              (run_id,)).fetchall()
            plan = Plan(subtasks=[_definition(_subtask_from(r)) for r in rows])
            tx.execute("INSERT INTO plans (execution_id, version, plan_json, status, fallback, created_at,"
                       " author) VALUES (?, ?, ?, ?, 0, ?, ?)",
                       (run_id, version, plan.model_dump_json(), PlanStatus.APPROVED.value, time.time(),
                        author)).close()
            if reopen is not None and ExecutionStatus(_status_of(tx, run_id)).finished:
                _set_status(tx, run_id, ExecutionStatus.HALTED, reopen)
            return version

        return await self.store.write(tx_write)

    async def changes(self, run_id: str) -> list[ev.PlanChanged]:
        """The run's plan changes, oldest first."""
        rows = await self.store.query(
            "SELECT payload FROM events WHERE execution_id = ? AND type = ? ORDER BY seq",
            (run_id, ev.PLAN_CHANGED))
        out = []
        for r in rows:
            payload = ev.parse_payload(ev.PLAN_CHANGED, json.loads(r[0]))
            if isinstance(payload, ev.PlanChanged):
                out.append(payload)
        return out


def _write_change(tx: Tx, run_id: str, write: GraphWrite, version: int, proposal: int | None,
                  accepted_by: str | None) -> None:
    for move in write.moves:
        now = tx.execute("SELECT status FROM subtasks WHERE execution_id = ? AND id = ?",
                         (run_id, move.subtask_id)).fetchone()
        if now is None or now[0] != move.expected.value:
            found = now[0] if now else "gone"
            raise PodiumError(f"{move.subtask_id} changed meanwhile (it is {found} now); "
                              "nothing was changed")
    if write.definition is not None:
        _write_definition(tx, run_id, write.definition, insert=write.insert)
    for move in write.moves:
        subtask = _row(tx, run_id, move.subtask_id)
        output = write.output if move.subtask_id == write.subtask_id and write.output else None
        if output is not None:
            tx.execute("UPDATE subtasks SET output = ? WHERE execution_id = ? AND id = ?",
                       (output, run_id, move.subtask_id)).close()
        if move.status is SubtaskStatus.PENDING:
            tx.execute("UPDATE subtasks SET error = NULL, finished_at = NULL, started_at = NULL"
                       " WHERE execution_id = ? AND id = ?", (run_id, move.subtask_id)).close()
        _subtask_status(tx, run_id, subtask, move.status, output=output, reason=move.reason)
    tx.emit(ev.PLAN_CHANGED, run_id, action=write.action, subtask_id=write.subtask_id, by=write.by,
            version=version, source=write.source,
            subtask=(_definition(write.definition).model_dump(mode="json") if write.definition else None),
            dependents=write.dependents, note=write.note, reset=write.reset, blocked=write.blocked,
            proposal=proposal, accepted_by=accepted_by)


def _definition(s: Subtask) -> Subtask:
    """The subtask as a plan states it (no status, output or usage)."""
    return Subtask(id=s.id, agent=s.agent, description=s.description, depends_on=list(s.depends_on),
                   acceptance_criteria=list(s.acceptance_criteria), estimated_tokens=s.estimated_tokens,
                   tools=list(s.tools))


def _row(tx: Tx, run_id: str, subtask_id: str) -> Subtask:
    row = tx.execute("SELECT * FROM subtasks WHERE execution_id = ? AND id = ?",
                     (run_id, subtask_id)).fetchone()
    return _subtask_from(row)


def _write_definition(tx: Tx, run_id: str, s: Subtask, *, insert: bool) -> None:
    if insert:
        row = tx.execute("SELECT coalesce(max(position), -1) + 1 FROM subtasks WHERE execution_id = ?",
                         (run_id,)).fetchone()
        tx.execute(
            "INSERT INTO subtasks (execution_id, id, position, agent, description, depends_on, acceptance,"
            " estimated_tokens, tools, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, s.id, int(row[0]), s.agent, s.description, json.dumps(s.depends_on),
             json.dumps(s.acceptance_criteria), s.estimated_tokens, json.dumps(s.tools),
             SubtaskStatus.PENDING.value)).close()
        return
    tx.execute("UPDATE subtasks SET agent = ?, description = ?, depends_on = ?, acceptance = ?"
               " WHERE execution_id = ? AND id = ?",
               (s.agent, s.description, json.dumps(s.depends_on), json.dumps(s.acceptance_criteria),
                run_id, s.id)).close()
