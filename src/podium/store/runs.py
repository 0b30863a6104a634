"""The runs repository: executions, plans, subtasks, messages and usage.

Every write goes through `store.write` and appends its event in the same
transaction, so what a subscriber (or another process tailing the event
log) sees has always been committed first. This module is the one writer
of subtask status: `RunRepository.set_subtask_status(es)`, and for writes
that belong to another record's transaction (control.py's consultations,
help and reviews; a tool approval) `_subtask_status` and `move_waiting_subtask`.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from podium import events as ev
from podium.domain import (
    Budget,
    Execution,
    ExecutionStatus,
    InterventionKind,
    Message,
    Phase,
    Plan,
    PlanStatus,
    Role,
    RunSettings,
    Subtask,
    SubtaskStatus,
    Team,
    Usage,
)
from podium.errors import NotFoundError, PodiumError
from podium.store.project import ProjectStore, Tx


@dataclass(frozen=True)
class PlanRecord:
    """One version of a run's plan, as stored."""

    version: int
    plan: Plan
    status: PlanStatus
    feedback: str | None
    fallback: bool
    created_at: float
    author: str = "leader"  # or the person who edited the proposed plan


def _usage_of(row: Any) -> Usage:
    return Usage(
        prompt_tokens=row["prompt_tokens"], completion_tokens=row["completion_tokens"],
        cost_usd=row["cost_usd"], calls=row["calls"],
    )


def _execution_from(row: Any) -> Execution:
    # An archive from before schema v2 opened read-only has no settings column.
    try:
        recorded = row["settings_json"]
    except IndexError:
        recorded = None
    return Execution(
        id=row["id"], objective=row["objective"], team=row["team"], model=row["model"],
        status=ExecutionStatus(row["status"]), budget=Budget.model_validate_json(row["budget_json"]),
        usage=_usage_of(row), steps=row["steps"], active_seconds=row["active_seconds"], result=row["result"],
        created_at=row["created_at"], updated_at=row["updated_at"], finished_at=row["finished_at"],
        settings=RunSettings.model_validate_json(recorded) if recorded else None,
    )


def _subtask_from(row: Any) -> Subtask:
    return Subtask(
        id=row["id"], agent=row["agent"], description=row["description"],
        depends_on=json.loads(row["depends_on"]), acceptance_criteria=json.loads(row["acceptance"]),
        estimated_tokens=row["estimated_tokens"], tools=json.loads(row["tools"]),
        status=SubtaskStatus(row["status"]), output=row["output"], error=row["error"],
        usage=_usage_of(row), started_at=row["started_at"], finished_at=row["finished_at"],
    )


def _message_from(row: Any) -> Message:
    return Message(
        id=row["id"], execution_id=row["execution_id"], subtask_id=row["subtask_id"],
        agent=row["agent"], role=Role(row["role"]), content=row["content"], phase=Phase(row["phase"]),
        prompt_tokens=row["prompt_tokens"], completion_tokens=row["completion_tokens"],
        cost_usd=row["cost_usd"], latency_ms=row["latency_ms"], created_at=row["created_at"],
    )


def _usage_payload(usage: Usage, steps: int, elapsed: float) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
        "cost_usd": usage.cost_usd, "calls": usage.calls, "steps": steps,
        "active_seconds": round(elapsed, 3),
    }


class RunRepository:
    """Reads and writes one project's runs. Stateless apart from the store."""

    def __init__(self, store: ProjectStore) -> None:
        self.store = store

    # ------------------------------------------------------------ executions

    async def create_execution(self, execution: Execution, team: Team) -> None:
        settings = execution.settings

        def insert(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO executions (id, objective, team, team_json, model, status, budget_json,"
                " settings_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (execution.id, execution.objective, team.name, team.model_dump_json(), execution.model,
                 execution.status.value, execution.budget.model_dump_json(),
                 settings.model_dump_json() if settings else None, execution.created_at,
                 execution.updated_at),
            )
            tx.emit(ev.RUN_CREATED, execution.id, objective=execution.objective, team=team.name,
                    model=execution.model, budget=execution.budget.model_dump(),
                    agents=team.agent_names, leader=team.leader)
            if settings is not None:
                tx.emit(ev.RUN_SETTINGS, execution.id, source="run", changed=[], **settings.model_dump())
            tx.emit(ev.RUN_STATUS, execution.id, status=execution.status.value)

        await self.store.write(insert)

    async def set_settings(self, run_id: str, settings: RunSettings, *, source: str,
                           changed: list[str]) -> None:
        """Record the settings a run goes on with (`podium resume` flags override the recorded
        ones); the run's model column follows `settings.model`, which every agent then uses."""

        def update(tx: Tx) -> None:
            cur = tx.execute(
                "UPDATE executions SET settings_json = ?, model = ?, updated_at = ? WHERE id = ?",
                (settings.model_dump_json(), settings.model, time.time(), run_id))
            if cur.rowcount != 1:
                raise NotFoundError(f"no run {run_id!r} in {self.store.path}")
            tx.emit(ev.RUN_SETTINGS, run_id, source=source, changed=changed, **settings.model_dump())

        await self.store.write(update)

    async def settings_history(self, run_id: str) -> list[dict[str, Any]]:
        """Each time the run's settings were recorded: when, by what, and which changed."""
        rows = await self.store.query(
            "SELECT created_at, json_extract(payload, '$.source') AS source,"
            " json_extract(payload, '$.changed') AS changed FROM events"
            " WHERE execution_id = ? AND type = ? ORDER BY seq", (run_id, ev.RUN_SETTINGS))
        return [{"at": r["created_at"], "source": r["source"], "changed": json.loads(r["changed"] or "[]")}
                for r in rows]

    async def get_execution(self, run_id: str) -> Execution:
        row = await self.store.query_one("SELECT * FROM executions WHERE id = ?", (run_id,))
        if row is None:
            row = await self._by_prefix(run_id)
        return _execution_from(row)

    async def resolve_id(self, run_id: str) -> str:
        """A full run id from a full id or a unique prefix (as users type them)."""
        row = await self.store.query_one("SELECT id FROM executions WHERE id = ?", (run_id,))
        if row is None:
            row = await self._by_prefix(run_id)
        return str(row["id"])

    async def _by_prefix(self, run_id: str) -> Any:
        rows = await self.store.query(
            "SELECT * FROM executions WHERE id LIKE ? ESCAPE '\\' LIMIT 2",
            (run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
        )
        if not rows or not run_id:
            raise NotFoundError(f"no run {run_id!r} in {self.store.path}")
        if len(rows) > 1:
            raise PodiumError(f"run id {run_id!r} is ambiguous; give more characters")
        return rows[0]

    async def get_team(self, run_id: str) -> Team:
        row = await self.store.query_one("SELECT team_json FROM executions WHERE id = ?", (run_id,))
        if row is None:
            raise NotFoundError(f"no run {run_id!r} in {self.store.path}")
        return Team.model_validate_json(row[0])

    async def list_executions(self, limit: int = 100) -> list[Execution]:
        rows = await self.store.query(
            "SELECT * FROM executions ORDER BY created_at DESC LIMIT ?", (limit,)
        )
        return [_execution_from(r) for r in rows]

    async def set_status(self, run_id: str, status: ExecutionStatus, reason: str | None = None) -> None:
        def update(tx: Tx) -> None:
            _set_status(tx, run_id, status, reason)

        await self.store.write(update)

    async def status_reason(self, run_id: str) -> str | None:
        """Why the run is in its current status (the reason of its last status event), if given."""
        row = await self.store.query_one(
            "SELECT json_extract(payload, '$.reason') FROM events WHERE execution_id = ? AND type = ?"
            " ORDER BY seq DESC LIMIT 1", (run_id, ev.RUN_STATUS))
        return None if row is None else row[0]

    async def set_budget(self, run_id: str, budget: Budget) -> None:
        def update(tx: Tx) -> None:
            tx.execute("UPDATE executions SET budget_json = ?, updated_at = ? WHERE id = ?",
                       (budget.model_dump_json(), time.time(), run_id))
            tx.emit(ev.RUN_STATUS, run_id, status=_status_of(tx, run_id), budget=budget.model_dump(),
                    reason="budget changed")

        await self.store.write(update)

    async def set_result(self, run_id: str, result: str | None, status: ExecutionStatus,
                         reason: str | None = None) -> None:
        def update(tx: Tx) -> None:
            if result is not None:
                tx.execute("UPDATE executions SET result = ? WHERE id = ?", (result, run_id))
                tx.emit(ev.RUN_RESULT, run_id, result=result)
            _set_status(tx, run_id, status, reason)

        await self.store.write(update)

    # ------------------------------------------------------------ the lease on a run

    async def claim(self, run_id: str, owner: str) -> int:
        """Become the one process driving this run, unless another live process is.

        Raises RunBusyError naming the other process. A lease is dead when its
        process is gone (same host) or its heartbeat is older than LEASE_STALE_S.
        Returns the run's last intervention id at that moment: rows after it were written for
        this process (steering sees it as the run's driver from here on), rows up to it were not.
        """

        def take(tx: Tx) -> int:
            row = tx.execute("SELECT owner, heartbeat_at FROM executions WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no run {run_id!r}")
            holder, beat = row[0], row[1]
            if holder and holder != owner and lease_alive(holder, beat):
                raise RunBusyError(run_id, holder)
            tx.execute("UPDATE executions SET owner = ?, heartbeat_at = ? WHERE id = ?",
                       (owner, time.time(), run_id))
            last = tx.execute("SELECT coalesce(max(id), 0) FROM interventions WHERE execution_id = ?",
                              (run_id,)).fetchone()
            return int(last[0])

        return await self.store.write(take)

    async def heartbeat(self, run_id: str, owner: str) -> None:
        # Liveness only, not a state change: no event.
        def beat(tx: Tx) -> None:
            tx.execute("UPDATE executions SET heartbeat_at = ? WHERE id = ? AND owner = ?",
                       (time.time(), run_id, owner)).close()

        await self.store.write(beat)

    async def release(self, run_id: str, owner: str) -> None:
        def drop(tx: Tx) -> None:
            tx.execute("UPDATE executions SET owner = NULL, heartbeat_at = NULL WHERE id = ? AND owner = ?",
                       (run_id, owner)).close()

        await self.store.write(drop)

    async def live_owner(self, run_id: str) -> str | None:
        """The live process driving this run, if any (for control from another terminal)."""
        row = await self.store.query_one("SELECT owner, heartbeat_at FROM executions WHERE id = ?", (run_id,))
        if row is None or not row[0]:
            return None
        return str(row[0]) if lease_alive(row[0], row[1]) else None

    # ------------------------------------------------------------ plans

    async def add_plan(self, run_id: str, plan: Plan, *, fallback: bool, errors: list[str],
                       feedback: str | None = None) -> int:
        """Store a proposed plan as the next version; the run then awaits approval."""

        def insert(tx: Tx) -> int:
            version = _next_plan_version(tx, run_id)
            tx.execute(
                "INSERT INTO plans (execution_id, version, plan_json, status, feedback, fallback,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, version, plan.model_dump_json(), PlanStatus.PROPOSED.value, feedback,
                 int(fallback), time.time()),
            )
            tx.emit(ev.PLAN_PROPOSED, run_id, version=version, plan=plan.model_dump(mode="json"),
                    fallback=fallback, errors=errors)
            _set_status(tx, run_id, ExecutionStatus.AWAITING_APPROVAL)
            return version

        return await self.store.write(insert)

    async def add_edited_plan(self, run_id: str, plan: Plan, *, edits: int, author: str) -> int:
        """A person's edit of the proposed plan `edits`, as the next version (still proposed, still
        awaiting approval); `edits` is superseded. Checked in the transaction: if the run no longer
        awaits approval of that version (approved, rejected or edited meanwhile), nothing is written."""

        def insert(tx: Tx) -> int:
            status = _status_of(tx, run_id)
            row = tx.execute("SELECT version, status FROM plans WHERE execution_id = ?"
                             " ORDER BY version DESC LIMIT 1", (run_id,)).fetchone()
            if status != ExecutionStatus.AWAITING_APPROVAL.value or row is None or row[0] != edits \
                    or row[1] != PlanStatus.PROPOSED.value:
                raise PodiumError(f"run {run_id} no longer awaits approval of plan v{edits} "
                                  f"({status}); nothing was saved")
            version = _next_plan_version(tx, run_id)
            tx.execute("UPDATE plans SET status = ? WHERE execution_id = ? AND version = ?",
                       (PlanStatus.SUPERSEDED.value, run_id, edits)).close()
            tx.execute(
                "INSERT INTO plans (execution_id, version, plan_json, status, fallback, created_at, author)"
                " VALUES (?, ?, ?, ?, 0, ?, ?)",
                (run_id, version, plan.model_dump_json(), PlanStatus.PROPOSED.value, time.time(), author),
            ).close()
            tx.emit(ev.PLAN_PROPOSED, run_id, version=version, plan=plan.model_dump(mode="json"),
                    author=author, supersedes=edits)
            return version

        return await self.store.write(insert)

    async def plans(self, run_id: str) -> list[PlanRecord]:
        rows = await self.store.query(
            "SELECT * FROM plans WHERE execution_id = ? ORDER BY version", (run_id,)
        )
        return [
            PlanRecord(version=r["version"], plan=Plan.model_validate_json(r["plan_json"]),
                       status=PlanStatus(r["status"]), feedback=r["feedback"],
                       fallback=bool(r["fallback"]), created_at=r["created_at"],
                       # A file older than schema v4 (read-only, not migrated) has no author column.
                       author=(r["author"] if "author" in r.keys() else None) or "leader")  # noqa: SIM118 (a Row's `in` looks at values)
            for r in rows
        ]

    async def latest_plan(self, run_id: str) -> PlanRecord | None:
        plans = await self.plans(run_id)
        return plans[-1] if plans else None

    async def reject_plan(self, run_id: str, version: int, feedback: str) -> None:
        def update(tx: Tx) -> None:
            tx.execute("UPDATE plans SET status = ?, feedback = ? WHERE execution_id = ? AND version = ?",
                       (PlanStatus.REJECTED.value, feedback, run_id, version))
            tx.emit(ev.PLAN_REJECTED, run_id, version=version, feedback=feedback)
            _set_status(tx, run_id, ExecutionStatus.PLANNING, "plan rejected")

        await self.store.write(update)

    async def approve_plan(self, run_id: str, version: int, plan: Plan, by: str) -> None:
        """Approve a plan version and materialise its subtasks, in one transaction."""

        def update(tx: Tx) -> None:
            tx.execute("UPDATE plans SET status = ? WHERE execution_id = ? AND version = ?",
                       (PlanStatus.APPROVED.value, run_id, version))
            tx.execute("DELETE FROM subtasks WHERE execution_id = ?", (run_id,))
            for position, s in enumerate(plan.subtasks):
                tx.execute(
                    "INSERT INTO subtasks (execution_id, id, position, agent, description, depends_on,"
                    " acceptance, estimated_tokens, tools, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, s.id, position, s.agent, s.description, json.dumps(s.depends_on),
                     json.dumps(s.acceptance_criteria), s.estimated_tokens, json.dumps(s.tools),
                     SubtaskStatus.PENDING.value),
                )
            tx.emit(ev.PLAN_APPROVED, run_id, version=version, by=by)
            # A fork's reused work becomes its subtasks' rows, done, if the plan kept them unchanged.
            apply_reuse(tx, run_id, plan)
            _set_status(tx, run_id, ExecutionStatus.RUNNING)

        await self.store.write(update)

    # ------------------------------------------------------------ subtasks

    async def subtasks(self, run_id: str) -> list[Subtask]:
        rows = await self.store.query(
            "SELECT * FROM subtasks WHERE execution_id = ? ORDER BY position", (run_id,)
        )
        return [_subtask_from(r) for r in rows]

    async def set_subtask_status(
        self, run_id: str, subtask: Subtask, status: SubtaskStatus, *,
        output: str | None = None, error: str | None = None, reason: str | None = None,
    ) -> None:
        """Move a subtask to `status`; RUNNING stamps started_at, terminal states finished_at."""

        def update(tx: Tx) -> None:
            _subtask_status(tx, run_id, subtask, status, output=output, error=error, reason=reason)

        await self.store.write(update)

    def finish_subtask(
        self, run_id: str, subtask: Subtask, status: SubtaskStatus, *, output: str | None = None,
        error: str | None = None, reply: Message | None = None, run_usage: Usage | None = None,
        steps: int = 0, elapsed: float = 0.0,
    ) -> asyncio.Future[None]:
        """A subtask's last reply (with its usage) and its end in one transaction, the events in
        order (reply, then status), queued without waiting (see ProjectStore.write_behind): what
        depends on it may start at once, and every later write and read on the store comes after
        it. The returned future settles at COMMIT; the caller must await it, to learn of a failure."""
        ended = time.time()

        def update(tx: Tx) -> None:
            if reply is not None:
                _insert_message(tx, reply)
                if run_usage is not None:
                    _record_usage(tx, reply, run_usage, steps, elapsed)
            _subtask_status(tx, run_id, subtask, status, output=output, error=error, at=ended)

        return self.store.write_behind(update, messages=[reply] if reply is not None else [])

    async def hold_for_review(self, run_id: str, subtask_ids: list[str]) -> None:
        """Done subtasks whose output now awaits the leader's check (and maybe a person's): the
        board's Review column. Only the status moves (their output and times are kept)."""

        def update(tx: Tx) -> None:
            for sid in subtask_ids:
                move_waiting_subtask(tx, run_id, sid, SubtaskStatus.REVIEW, only_from=SubtaskStatus.DONE,
                                     reason="awaits review")

        await self.store.write(update)

    async def release_review(self, run_id: str, reason: str) -> None:
        """Subtasks held for a review that will not be decided (a new session after a crash): done."""

        def update(tx: Tx) -> None:
            release_review(tx, run_id, reason)

        await self.store.write(update)

    async def set_subtasks_status(self, run_id: str, changes: Iterable[tuple[Subtask, SubtaskStatus, str]]
                                  ) -> None:
        """Several status changes (subtask, status, reason) in one transaction."""
        batch = list(changes)
        if not batch:
            return

        def update(tx: Tx) -> None:
            for subtask, status, reason in batch:
                _subtask_status(tx, run_id, subtask, status, reason=reason)

        await self.store.write(update)

    # ------------------------------------------------------------ messages and usage

    async def add_message(self, message: Message, *, run_usage: Usage | None = None, steps: int = 0,
                          elapsed: float = 0.0, extra_event: tuple[str, dict[str, Any]] | None = None
                          ) -> int:
        """Store a message with its event; with `run_usage`, also the run's (and subtask's) totals."""

        def insert(tx: Tx) -> int:
            message_id = _insert_message(tx, message)
            if extra_event is not None:
                kind, payload = extra_event
                tx.emit(kind, message.execution_id, message_id=message_id, **payload)
            if run_usage is not None:
                _record_usage(tx, message, run_usage, steps, elapsed)
            return message_id

        return await self.store.write(insert, messages=[message])

    async def record_usage(self, run_id: str, run_usage: Usage, steps: int, elapsed: float) -> None:
        """The run's totals after calls that produced no message (e.g. a failed structured call)."""

        def update(tx: Tx) -> None:
            tx.execute(
                "UPDATE executions SET prompt_tokens = ?, completion_tokens = ?, cost_usd = ?, calls = ?,"
                " steps = ?, active_seconds = ?, updated_at = ? WHERE id = ?",
                (run_usage.prompt_tokens, run_usage.completion_tokens, run_usage.cost_usd,
                 run_usage.calls, steps, elapsed, time.time(), run_id),
            )
            tx.emit(ev.RUN_USAGE, run_id, **_usage_payload(run_usage, steps, elapsed))

        await self.store.write(update)

    async def messages(self, run_id: str, *, subtask_id: str | None = None,
                       phase: Phase | None = None) -> list[Message]:
        sql = "SELECT * FROM messages WHERE execution_id = ?"
        params: list[Any] = [run_id]
        if subtask_id is not None:
            sql += " AND subtask_id = ?"
            params.append(subtask_id)
        if phase is not None:
            sql += " AND phase = ?"
            params.append(phase.value)
        rows = await self.store.query(sql + " ORDER BY id", params)
        return [_message_from(r) for r in rows]

    async def recent_messages(self, run_id: str, limit: int, *, exclude_subtask: str | None = None
                              ) -> list[Message]:
        """The run's last `limit` messages (oldest first), minus one subtask's own transcript."""
        if limit <= 0:
            return []
        rows = await self.store.run(lambda conn: _recent_rows(conn, run_id, limit, exclude_subtask))
        return [_message_from(r) for r in reversed(rows)]

    async def start_subtask(self, run_id: str, subtask: Subtask, window: int
                            ) -> tuple[list[Message], asyncio.Future[None]]:
        """Mark a subtask running and take its first conversation window (the run's recent
        messages, without its own), waiting for neither: RUNNING is queued behind the writes
        before it (the end of the subtask it depends on, say), and the window comes from the
        run's recent-message log (see recent_messages.py), which a first read seeds.

        Returns the window and the future of RUNNING's commit, which the caller must await."""
        started = time.time()
        running = self.store.write_behind(
            lambda tx: _subtask_status(tx, run_id, subtask, SubtaskStatus.RUNNING, at=started))
        try:
            return await self.first_window(run_id, window, subtask.id), running
        except BaseException:
            running.add_done_callback(lambda f: f.cancelled() or f.exception())  # the read's error wins
            raise

    async def first_window(self, run_id: str, limit: int, exclude_subtask: str) -> list[Message]:
        """What recent_messages would read after every write queued so far, from the run's log."""
        if limit <= 0:
            return []
        recent = self.store.recent
        found = recent.window(run_id, limit, exclude_subtask)
        if found is not None:
            return found
        seeded = recent.seed(run_id)  # messages queued from here on go after what the read returns
        rows = await self.store.run(
            lambda conn: _recent_rows(conn, run_id, recent.keep, None, everything=True))
        seeded([_message_from(r) for r in reversed(rows)])
        found = recent.window(run_id, limit, exclude_subtask)
        return found if found is not None else await self.recent_messages(
            run_id, limit, exclude_subtask=exclude_subtask)

    # ------------------------------------------------------------ interventions

    async def add_intervention(self, run_id: str, kind: InterventionKind, *, text: str = "",
                               subtask_id: str | None = None, source: str = "cli", consumed: bool = False,
                               status: ExecutionStatus | None = None, reason: str | None = None) -> int:
        """Record a control action (and the run status it implies) in one transaction.

        `consumed`: the running engine applied it already (an in-process control);
        otherwise the process running the execution picks it up from the table.
        """

        def insert(tx: Tx) -> int:
            now = time.time()
            cur = tx.execute(
                "INSERT INTO interventions (execution_id, kind, subtask_id, text, source, created_at,"
                " consumed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, kind.value, subtask_id, text, source, now, now if consumed else None),
            )
            intervention_id = int(cur.lastrowid)
            cur.close()
            tx.emit(ev.INTERVENTION, run_id, id=intervention_id, kind=kind.value, subtask_id=subtask_id,
                    text=text, source=source)
            if status is not None:
                _set_status(tx, run_id, status, reason)
            return intervention_id

        return await self.store.write(insert)

    async def steer(self, run_id: str, kind: InterventionKind, *, text: str = "",
                    subtask_id: str | None = None, source: str = "cli", me: str | None = None,
                    status: ExecutionStatus | None = None, reason: str | None = None
                    ) -> tuple[int, str | None]:
        """Record a control action for whoever drives the run at the moment it is written: the
        lease is read in the same transaction, so a process claiming the run concurrently either
        sees the row (pending, for its watcher) or is seen as the driver. Returns the row's id
        and the run's live driver then (None: nobody).

        Driven by another process: the row is left pending for it. Driven by `me`: it is
        consumed (`me` applies it in memory) with the `status` it implies. Driven by nobody: it
        is consumed and acts on the file: a halt makes the run `halted` (resumable; a result
        awaiting review stays so), other kinds set `status`. The next session starts from that.
        """

        def insert(tx: Tx) -> tuple[int, str | None]:
            row = tx.execute("SELECT owner, heartbeat_at FROM executions WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no run {run_id!r}")
            driver = str(row[0]) if row[0] and lease_alive(row[0], row[1]) else None
            now = time.time()
            pending = driver is not None and driver != me
            cur = tx.execute(
                "INSERT INTO interventions (execution_id, kind, subtask_id, text, source, created_at,"
                " consumed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, kind.value, subtask_id, text, source, now, None if pending else now))
            intervention_id = int(cur.lastrowid)
            cur.close()
            tx.emit(ev.INTERVENTION, run_id, id=intervention_id, kind=kind.value, subtask_id=subtask_id,
                    text=text, source=source)
            if pending:
                return intervention_id, driver
            new, why = status, reason
            if driver is None and kind is InterventionKind.HALT:
                current = ExecutionStatus(_status_of(tx, run_id))
                halts = not current.finished and current not in (ExecutionStatus.HALTED,
                                                                 ExecutionStatus.REVIEW)
                new, why = (ExecutionStatus.HALTED if halts else None), reason or text or None
            if new is not None:
                _set_status(tx, run_id, new, why)
            return intervention_id, driver

        return await self.store.write(insert)

    async def interventions(self, run_id: str, kind: InterventionKind | None = None
                            ) -> list[tuple[InterventionKind, str, str | None, str]]:
        """(kind, text, subtask_id, source) of the run's interventions, oldest first."""
        sql = "SELECT kind, text, subtask_id, source FROM interventions WHERE execution_id = ?"
        params: list[Any] = [run_id]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind.value)
        rows = await self.store.query(sql + " ORDER BY id", params)
        return [(InterventionKind(r[0]), r[1], r[2], r[3]) for r in rows]

    async def emit(self, run_id: str, type: str, **payload: Any) -> None:
        """An event with no row of its own (e.g. memory recalled)."""
        await self.store.append_event(type, run_id, **payload)

    def emit_behind(self, run_id: str, type: str, **payload: Any) -> asyncio.Future[None]:
        """`emit`, queued without waiting (see ProjectStore.write_behind); the caller awaits the
        future, to learn of a failure."""
        def append(tx: Tx) -> None:
            tx.emit(type, run_id, **payload)

        return self.store.write_behind(append)


# ---------------------------------------------------------------- leases

LEASE_STALE_S = 10.0


class RunBusyError(PodiumError):
    def __init__(self, run_id: str, owner: str) -> None:
        super().__init__(f"run {run_id} is being driven by another live process ({owner}); "
                         "control it from here with pause/halt/guide, or wait for it to stop")
        self.owner = owner


def lease_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def process_alive(owner: str) -> bool | None:
    """Whether the process `host:pid` exists, when it is on this host (None: another host)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)  # signal 0: does the process exist?
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lease_alive(owner: str, heartbeat_at: float | None) -> bool:
    if process_alive(owner) is False:
        return False
    # The pid exists (a recycled pid would still need a fresh heartbeat), or is on another host.
    return heartbeat_at is not None and time.time() - heartbeat_at < LEASE_STALE_S


# ---------------------------------------------------------------- in-transaction helpers


def _next_plan_version(tx: Tx, run_id: str) -> int:
    row = tx.execute("SELECT coalesce(max(version), 0) FROM plans WHERE execution_id = ?",
                     (run_id,)).fetchone()
    return int(row[0]) + 1


def _status_of(tx: Tx, run_id: str) -> str:
    row = tx.execute("SELECT status FROM executions WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no run {run_id!r}")
    return str(row[0])


def _set_status(tx: Tx, run_id: str, status: ExecutionStatus, reason: str | None = None) -> None:
    now = time.time()
    finished = now if status.finished else None
    tx.execute("UPDATE executions SET status = ?, updated_at = ?, finished_at = ? WHERE id = ?",
               (status.value, now, finished, run_id))
    payload: dict[str, Any] = {"status": status.value}
    if reason:
        payload["reason"] = reason
    tx.emit(ev.RUN_STATUS, run_id, **payload)


_TERMINAL = {SubtaskStatus.DONE, SubtaskStatus.FAILED, SubtaskStatus.BLOCKED, SubtaskStatus.SKIPPED,
             SubtaskStatus.CANCELLED}


def _subtask_status(tx: Tx, run_id: str, subtask: Subtask, status: SubtaskStatus, *,
                    output: str | None = None, error: str | None = None, reason: str | None = None,
                    at: float | None = None) -> None:
    """`at`: when it happened, for a change queued before its transaction ran (default: now)."""
    now = time.time() if at is None else at
    if status is SubtaskStatus.RUNNING:
        tx.execute("UPDATE subtasks SET status = ?, started_at = ?, finished_at = NULL, error = NULL"
                   " WHERE execution_id = ? AND id = ?", (status.value, now, run_id, subtask.id))
    elif status in _TERMINAL:
        tx.execute("UPDATE subtasks SET status = ?, output = ?, error = ?, finished_at = ?"
                   " WHERE execution_id = ? AND id = ?",
                   (status.value, output, error, now, run_id, subtask.id))
    else:
        tx.execute("UPDATE subtasks SET status = ? WHERE execution_id = ? AND id = ?",
                   (status.value, run_id, subtask.id))
    payload: dict[str, Any] = {"subtask_id": subtask.id, "agent": subtask.agent, "status": status.value}
    if output is not None:
        payload["output"] = output
    if error is not None:
        payload["error"] = error
    if reason:
        payload["reason"] = reason
    tx.emit(ev.SUBTASK_STATUS, run_id, **payload)


def move_waiting_subtask(tx: Tx, run_id: str | None, subtask_id: str | None, status: SubtaskStatus, *,
                         only_from: SubtaskStatus, reason: str) -> bool:
    """Inside the caller's transaction: a subtask that pauses to wait on someone (a tool
    approval) or goes back to work moves to `status`, with its event, if it is in `only_from`,
    so a halted or finished one is left alone. Only the status changes: the subtask neither
    starts nor ends here (no timestamps, output or error). True if it moved."""
    if run_id is None or subtask_id is None:
        return False
    row = tx.execute("SELECT agent FROM subtasks WHERE execution_id = ? AND id = ? AND status = ?",
                     (run_id, subtask_id, only_from.value)).fetchone()
    if row is None:
        return False
    tx.execute("UPDATE subtasks SET status = ? WHERE execution_id = ? AND id = ?",
               (status.value, run_id, subtask_id))
    tx.emit(ev.SUBTASK_STATUS, run_id, subtask_id=subtask_id, agent=row["agent"], status=status.value,
            reason=reason)
    return True


def release_review(tx: Tx, run_id: str, reason: str) -> list[str]:
    """Inside the caller's transaction: every subtask held for review back to done (status only:
    its output stays). Returns their ids."""
    ids = [r[0] for r in tx.execute("SELECT id FROM subtasks WHERE execution_id = ? AND status = ?"
                                    " ORDER BY position", (run_id, SubtaskStatus.REVIEW.value)).fetchall()]
    for sid in ids:
        move_waiting_subtask(tx, run_id, sid, SubtaskStatus.DONE, only_from=SubtaskStatus.REVIEW,
                             reason=reason)
    return ids


def _recent_rows(conn: Any, run_id: str, limit: int, exclude_subtask: str | None, *,
                 everything: bool = False) -> list[Any]:
    """The run's last `limit` messages, newest first: without system messages and the subtask's
    own, or (`everything`) all of them."""
    if everything:
        return list(conn.execute("SELECT * FROM messages WHERE execution_id = ? ORDER BY id DESC LIMIT ?",
                                 (run_id, limit)).fetchall())
    return list(conn.execute(
        "SELECT * FROM messages WHERE execution_id = ? AND (subtask_id IS NULL OR subtask_id != ?)"
        " AND role != 'system' ORDER BY id DESC LIMIT ?", (run_id, exclude_subtask or "", limit)).fetchall())


def apply_reuse(tx: Tx, run_id: str, plan: Plan) -> list[str]:
    """Inside the approval's transaction, after the plan's subtasks were written pending: a fork's
    reused subtasks (the snapshot `podium fork` took, store/fork.py) that the approved plan still
    has, unchanged, become done with the output, usage and times they had, so they never run.
    Returns their ids; nothing for a run that is not a fork."""
    rows = tx.execute("SELECT * FROM fork_reuse WHERE execution_id = ? AND applied IS NULL",
                      (run_id,)).fetchall()
    planned = {s.id: s for s in plan.subtasks}
    applied: list[str] = []
    for r in rows:
        sid = r["subtask_id"]
        subtask = planned.get(sid)
        same = subtask is not None and json.loads(r["definition_json"]) == {
            "agent": subtask.agent, "description": subtask.description,
            "depends_on": list(subtask.depends_on), "acceptance_criteria": list(subtask.acceptance_criteria)}
        tx.execute("UPDATE fork_reuse SET applied = ? WHERE execution_id = ? AND subtask_id = ?",
                   (int(same), run_id, sid)).close()
        if not same or subtask is None:
            # It runs again (or is gone): the files it wrote in the parent are not the fork's.
            tx.execute("DELETE FROM workspace_files WHERE execution_id = ? AND subtask_id = ?",
                       (run_id, sid)).close()
            continue
        tx.execute("UPDATE subtasks SET status = ?, output = ?, error = NULL, prompt_tokens = ?,"
                   " completion_tokens = ?, cost_usd = ?, calls = ?, started_at = ?, finished_at = ?"
                   " WHERE execution_id = ? AND id = ?",
                   (SubtaskStatus.DONE.value, r["output"], r["prompt_tokens"], r["completion_tokens"],
                    r["cost_usd"], r["calls"], r["started_at"], r["finished_at"], run_id, sid)).close()
        how = "reused, its output edited," if r["edited"] else "reused"
        tx.emit(ev.SUBTASK_STATUS, run_id, subtask_id=sid, agent=subtask.agent,
                status=SubtaskStatus.DONE.value, output=r["output"],
                reason=f"{how} from run {r['source_execution']} ({r['source_subtask']})")
        applied.append(sid)
    return applied


def _insert_message(tx: Tx, m: Message) -> int:
    tx.inserting(m)
    cur = tx.execute(
        "INSERT INTO messages (execution_id, subtask_id, agent, role, content, phase, prompt_tokens,"
        " completion_tokens, cost_usd, latency_ms, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (m.execution_id, m.subtask_id, m.agent, m.role.value, m.content, m.phase.value, m.prompt_tokens,
         m.completion_tokens, m.cost_usd, m.latency_ms, m.created_at),
    )
    message_id = int(cur.lastrowid)
    cur.close()
    tx.emit(ev.MESSAGE_ADDED, m.execution_id, message_id=message_id, agent=m.agent,
            subtask_id=m.subtask_id, role=m.role.value, phase=m.phase.value, content=m.content,
            prompt_tokens=m.prompt_tokens, completion_tokens=m.completion_tokens, cost_usd=m.cost_usd)
    return message_id


def _record_usage(tx: Tx, m: Message, run_usage: Usage, steps: int, elapsed: float) -> None:
    now = time.time()
    tx.execute(
        "UPDATE executions SET prompt_tokens = ?, completion_tokens = ?, cost_usd = ?, calls = ?,"
        " steps = ?, active_seconds = ?, updated_at = ? WHERE id = ?",
        (run_usage.prompt_tokens, run_usage.completion_tokens, run_usage.cost_usd, run_usage.calls,
         steps, elapsed, now, m.execution_id),
    )
    if m.subtask_id is not None and (m.prompt_tokens or m.completion_tokens or m.cost_usd):
        tx.execute(
            "UPDATE subtasks SET prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens"
            " + ?, cost_usd = cost_usd + ?, calls = calls + 1 WHERE execution_id = ? AND id = ?",
            (m.prompt_tokens, m.completion_tokens, m.cost_usd, m.execution_id, m.subtask_id),
        )
    tx.emit(ev.RUN_USAGE, m.execution_id, **_usage_payload(run_usage, steps, elapsed))
