"""Forks: a new run made from another run's finished work, in one transaction.

`ForkRepository.fork` reads the parent's subtasks inside its own write transaction (so a run
another process is executing is read as it stands at that moment) and writes the fork whole:
the run awaiting approval of a copy of the parent's plan, its lineage (`run_forks`), a snapshot
of every reused subtask (`fork_reuse`), and the transcript, consultations, sources and files of
the reused work, each with its event. A kill at any moment leaves either no fork or all of it.

When the fork's plan is approved, the runs repository (`runs.apply_reuse`, in the approval's
transaction; it alone writes subtask status) turns each snapshot into its subtask's row, done,
with the output it had: those subtasks never run. `import_run` copies one run from an archive
into this project first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podium import events as ev
from podium.domain import (
    ExecutionStatus,
    Plan,
    PlanStatus,
    Role,
    Subtask,
    SubtaskStatus,
    Team,
    Usage,
    with_dependents,
)
from podium.errors import NotFoundError, PodiumError
from podium.store.project import ProjectStore, Tx

# A parent's subtask whose output a fork can reuse: finished work (REVIEW is done work held for
# the leader's or a person's check). Anything else runs again in the fork.
REUSABLE = (SubtaskStatus.DONE.value, SubtaskStatus.REVIEW.value)
# The parent's messages a fork copies besides the reused subtasks' own: how the plan came to be.
PLAN_PHASES = ("discussion", "planning")
FORK_AUTHOR = "fork"


@dataclass(frozen=True)
class ForkRequest:
    """What to fork and how. `rerun_from`: subtasks to run again (with what depends on them);
    `edits`: subtask id -> the text replacing its output (its dependents run again)."""

    parent_id: str
    fork_id: str
    objective: str
    team: Team
    model: str | None
    budget_json: str
    settings_json: str | None
    rerun_from: list[str] = field(default_factory=list)
    edits: dict[str, str] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Reused:
    """Where a fork's subtask came from (`podium show`'s `reused_from`)."""

    run: str
    subtask: str
    edited: bool
    applied: bool | None  # None: the fork's plan is not approved yet


@dataclass(frozen=True)
class ForkRecord:
    """A run's lineage: its parent, the subtasks asked to run again, the edited ones, what runs
    again, what was reused (by subtask id) and what the fork changed."""

    run_id: str
    parent_id: str
    from_subtasks: list[str]
    edited: list[str]
    rerun: list[str]
    changes: list[str]
    created_at: float
    reused: dict[str, Reused] = field(default_factory=dict)


def _definition(row: Any) -> dict[str, Any]:
    """What a subtask asks for (its reuse holds only while this is unchanged)."""
    return {"agent": row["agent"], "description": row["description"],
            "depends_on": json.loads(row["depends_on"]), "acceptance_criteria": json.loads(row["acceptance"])}


class ForkRepository:
    def __init__(self, store: ProjectStore) -> None:
        self.store = store

    async def fork(self, request: ForkRequest) -> ForkRecord:
        """Make the fork (one transaction); PodiumError, nothing written, if it cannot be made."""
        return await self.store.write(lambda tx: _fork(tx, request))

    async def lineage(self, run_id: str) -> ForkRecord | None:
        """The run's fork record (None: not a fork), with what it reused."""
        if not await self._has_forks_table():
            return None
        row = await self.store.query_one("SELECT * FROM run_forks WHERE execution_id = ?", (run_id,))
        if row is None:
            return None
        reused = await self.store.query(
            "SELECT subtask_id, source_execution, source_subtask, edited, applied FROM fork_reuse"
            " WHERE execution_id = ? ORDER BY rowid", (run_id,))
        return ForkRecord(
            run_id=run_id, parent_id=row["parent_id"], from_subtasks=json.loads(row["from_json"]),
            edited=json.loads(row["edited_json"]), rerun=json.loads(row["rerun_json"]),
            changes=json.loads(row["changes_json"]), created_at=row["created_at"],
            reused={r["subtask_id"]: Reused(run=r["source_execution"], subtask=r["source_subtask"],
                                            edited=bool(r["edited"]),
                                            applied=None if r["applied"] is None else bool(r["applied"]))
                    for r in reused})

    async def parent_durations(self, run_id: str) -> dict[str, float]:
        """For a fork: the seconds each subtask took in the run it was forked from (and its
        parents'), by subtask id; the scheduler's estimates for what runs again."""
        if not await self._has_forks_table():
            return {}
        rows = await self.store.query(
            "WITH RECURSIVE up(id, depth) AS (SELECT parent_id, 1 FROM run_forks WHERE execution_id = ?"
            " UNION ALL SELECT f.parent_id, up.depth + 1 FROM run_forks f JOIN up ON f.execution_id = up.id"
            " WHERE up.depth < 50)"
            " SELECT s.id, s.finished_at - s.started_at FROM up JOIN subtasks s ON s.execution_id = up.id"
            " WHERE s.started_at IS NOT NULL AND s.finished_at > s.started_at ORDER BY up.depth DESC",
            (run_id,))
        return {r[0]: float(r[1]) for r in rows}  # the nearest ancestor's measurement wins

    async def parents(self) -> dict[str, tuple[str, list[str]]]:
        """Every fork in the project: run id -> (parent id, the subtasks it re-ran from)."""
        if not await self._has_forks_table():
            return {}
        rows = await self.store.query("SELECT execution_id, parent_id, from_json, edited_json FROM run_forks")
        return {r[0]: (r[1], json.loads(r[2]) or json.loads(r[3])) for r in rows}

    async def restore_pending(self, run_id: str) -> bool:
        """A fork whose reused subtasks' files were not yet written into its workspace folder."""
        if not await self._has_forks_table():
            return False
        row = await self.store.query_one("SELECT files_restored_at FROM run_forks WHERE execution_id = ?",
                                         (run_id,))
        return row is not None and row[0] is None

    async def restored(self, run_id: str, subtasks: list[str], files: list[str], skipped: list[str],
                       commit: str | None) -> None:
        """The reused subtasks' files are in the fork's folder (and `commit` on its branch): the
        mark and its event, in one transaction."""

        def write(tx: Tx) -> None:
            tx.execute("UPDATE run_forks SET files_restored_at = ? WHERE execution_id = ?",
                       (time.time(), run_id)).close()
            tx.emit(ev.FORK_FILES_RESTORED, run_id, subtasks=subtasks, files=files, skipped=skipped,
                    commit=commit)

        await self.store.write(write)

    async def ran(self, run_id: str) -> bool:
        """Whether any subtask of the fork other than the reused ones has started (its agents have
        worked in its folder)."""
        row = await self.store.query_one(
            "SELECT 1 FROM subtasks WHERE execution_id = ? AND started_at IS NOT NULL AND id NOT IN"
            " (SELECT subtask_id FROM fork_reuse WHERE execution_id = ? AND applied = 1) LIMIT 1",
            (run_id, run_id))
        return row is not None

    async def _has_forks_table(self) -> bool:
        return await self.store.has_table("run_forks")  # an archive from before v8 has no forks

    async def import_run(self, archive: Path, run_id: str) -> str:
        """Copy one run (every row that belongs to it, and its events) from an archive file into
        this project, in one transaction; returns its id. A run the project already holds is left
        as it is (the same id is the same run)."""
        return await _import(self.store, Path(archive), run_id)


# ---------------------------------------------------------------- the fork transaction


def _fork(tx: Tx, req: ForkRequest) -> ForkRecord:
    parent = tx.execute("SELECT * FROM executions WHERE id = ?", (req.parent_id,)).fetchone()
    if parent is None:
        raise NotFoundError(f"no run {req.parent_id!r}")
    rows = tx.execute("SELECT * FROM subtasks WHERE execution_id = ? ORDER BY position",
                      (req.parent_id,)).fetchall()
    if not rows:
        raise PodiumError(f"run {req.parent_id} has no approved plan ({parent['status']}): there is no "
                          "finished work to fork from; start a new run instead")
    by_id = {r["id"]: r for r in rows}
    order = [r["id"] for r in rows]
    unknown = [i for i in [*req.rerun_from, *req.edits] if i not in by_id]
    if unknown:
        raise PodiumError(f"run {req.parent_id} has no subtask {unknown[0]!r} "
                          f"(its subtasks: {', '.join(order)})")
    both = [i for i in req.edits if i in req.rerun_from]
    if both:
        raise PodiumError(f"{both[0]} is both edited and run again: choose --edit or --from for it")
    for sid in req.edits:
        if by_id[sid]["status"] not in REUSABLE:
            raise PodiumError(f"{sid} is {by_id[sid]['status']} in run {req.parent_id}: only a finished "
                              "(done) subtask's output can be replaced")
    graph = {r["id"]: json.loads(r["depends_on"]) for r in rows}
    unfinished = [i for i in order if by_id[i]["status"] not in REUSABLE]
    after_edits = {d for d in with_dependents(req.edits, order, graph) if d not in req.edits}
    rerun = with_dependents([*req.rerun_from, *unfinished, *after_edits], order, graph)
    clash = [i for i in req.edits if i in rerun]
    if clash:
        upstream = [i for i in [*req.rerun_from, *unfinished]
                    if clash[0] in with_dependents([i], order, graph)]
        raise PodiumError(f"{clash[0]} runs again in the fork (it depends on {upstream[0]}), so its output "
                          "cannot be edited: edit it in the fork instead (`podium task output`)")
    missing = sorted({by_id[i]["agent"] for i in rerun} - set(req.team.agent_names))
    if missing:
        raise PodiumError(f"team {req.team.name} has no agent {missing[0]!r}, which runs "
                          f"{', '.join(i for i in rerun if by_id[i]['agent'] == missing[0])} again; "
                          f"its agents: {', '.join(req.team.agent_names)}")
    reused = [i for i in order if i not in rerun]
    now = time.time()

    # The run, awaiting approval of the parent's plan as it stands (the live graph, with every
    # change made while it ran), like any new run's.
    tx.execute(
        "INSERT INTO executions (id, objective, team, team_json, model, status, budget_json, settings_json,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (req.fork_id, req.objective, req.team.name, req.team.model_dump_json(), req.model,
         ExecutionStatus.AWAITING_APPROVAL.value, req.budget_json, req.settings_json, now, now)).close()
    tx.emit(ev.RUN_CREATED, req.fork_id, objective=req.objective, team=req.team.name, model=req.model,
            budget=json.loads(req.budget_json), agents=req.team.agent_names, leader=req.team.leader)
    if req.settings_json is not None:
        tx.emit(ev.RUN_SETTINGS, req.fork_id, source="fork", changed=list(req.changes),
                **json.loads(req.settings_json))
    tx.execute("INSERT INTO run_forks (execution_id, parent_id, from_json, edited_json, rerun_json,"
               " changes_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
               (req.fork_id, req.parent_id, json.dumps(req.rerun_from), json.dumps(list(req.edits)),
                json.dumps(rerun), json.dumps(req.changes), now)).close()
    tx.emit(ev.RUN_FORKED, req.fork_id, parent=req.parent_id, from_subtasks=list(req.rerun_from),
            edited=list(req.edits), reused=reused, rerun=rerun, changes=list(req.changes))

    latest = tx.execute("SELECT plan_json FROM plans WHERE execution_id = ? ORDER BY version DESC LIMIT 1",
                        (req.parent_id,)).fetchone()
    rationale = Plan.model_validate_json(latest[0]).rationale if latest is not None else ""
    plan = Plan(subtasks=[Subtask(id=r["id"], agent=r["agent"], description=r["description"],
                                  depends_on=json.loads(r["depends_on"]),
                                  acceptance_criteria=json.loads(r["acceptance"]),
                                  estimated_tokens=r["estimated_tokens"], tools=json.loads(r["tools"]))
                          for r in rows], rationale=rationale)
    tx.execute("INSERT INTO plans (execution_id, version, plan_json, status, fallback, created_at, author)"
               " VALUES (?, 1, ?, ?, 0, ?, ?)",
               (req.fork_id, plan.model_dump_json(), PlanStatus.PROPOSED.value, now, FORK_AUTHOR)).close()
    tx.emit(ev.PLAN_PROPOSED, req.fork_id, version=1, plan=plan.model_dump(mode="json"), author=FORK_AUTHOR)
    for sid in reused:
        r = by_id[sid]
        tx.execute(
            "INSERT INTO fork_reuse (execution_id, subtask_id, source_execution, source_subtask, edited,"
            " definition_json, output, prompt_tokens, completion_tokens, cost_usd, calls, started_at,"
            " finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (req.fork_id, sid, req.parent_id, sid, int(sid in req.edits), json.dumps(_definition(r)),
             req.edits.get(sid, r["output"] or ""), r["prompt_tokens"], r["completion_tokens"],
             r["cost_usd"], r["calls"], r["started_at"], r["finished_at"])).close()
    _copy_work(tx, req.parent_id, req.fork_id, reused)

    what = f"fork of {req.parent_id}: {len(reused)} reused, {len(rerun)} to run again"
    tx.emit(ev.RUN_STATUS, req.fork_id, status=ExecutionStatus.AWAITING_APPROVAL.value, reason=what)
    return ForkRecord(run_id=req.fork_id, parent_id=req.parent_id, from_subtasks=list(req.rerun_from),
                      edited=list(req.edits), rerun=rerun, changes=list(req.changes), created_at=now,
                      reused={i: Reused(req.parent_id, i, i in req.edits, None) for i in reused})


def _copy_work(tx: Tx, parent: str, fork: str, reused: list[str]) -> None:
    """The reused subtasks' transcripts (and the discussion and planning that led to the plan),
    consultations, sources, claim checks and files, each message with its event."""
    marks = ",".join("?" * len(reused)) or "NULL"
    messages = tx.execute(
        f"SELECT * FROM messages WHERE execution_id = ? AND (subtask_id IN ({marks})"
        f" OR (subtask_id IS NULL AND phase IN ({','.join('?' * len(PLAN_PHASES))}))) ORDER BY id",
        (parent, *reused, *PLAN_PHASES)).fetchall()
    for m in messages:
        cur = tx.execute(
            "INSERT INTO messages (execution_id, subtask_id, agent, role, content, phase, prompt_tokens,"
            " completion_tokens, cost_usd, latency_ms, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (fork, m["subtask_id"], m["agent"], m["role"], m["content"], m["phase"], m["prompt_tokens"],
             m["completion_tokens"], m["cost_usd"], m["latency_ms"], m["created_at"]))
        message_id = int(cur.lastrowid)
        cur.close()
        tx.emit(ev.MESSAGE_ADDED, fork, message_id=message_id, agent=m["agent"], subtask_id=m["subtask_id"],
                role=Role(m["role"]).value, phase=m["phase"], content=m["content"],
                prompt_tokens=m["prompt_tokens"], completion_tokens=m["completion_tokens"],
                cost_usd=m["cost_usd"])
    if not reused:
        return
    params = (fork, parent, *reused)
    tx.execute(
        "INSERT INTO consultations (execution_id, subtask_id, asker, peer, question, answer, error, depth,"
        " prompt_tokens, completion_tokens, cost_usd, started_at, finished_at) SELECT ?, subtask_id, asker,"
        " peer, question, answer, error, depth, prompt_tokens, completion_tokens, cost_usd, started_at,"
        f" finished_at FROM consultations WHERE execution_id = ? AND subtask_id IN ({marks}) ORDER BY id",
        params).close()
    # Sources keep their numbers, so the reused outputs' citations (S3) still point at what was read;
    # sources the fork's re-run subtasks record are numbered after them.
    tx.execute(
        "INSERT INTO sources (execution_id, number, subtask_id, agent, kind, url, title, query, provider,"
        " fetched_at, sha256, chars, text, truncated) SELECT ?, number, subtask_id, agent, kind, url, title,"
        " query, provider, fetched_at, sha256, chars, text, truncated FROM sources WHERE execution_id = ?"
        f" AND subtask_id IN ({marks})", params).close()
    tx.execute(
        "INSERT INTO claim_checks (execution_id, subtask_id, agent, source, claim, quote, verdict, evidence,"
        " created_at) SELECT ?, subtask_id, agent, source, claim, quote, verdict, evidence, created_at"
        f" FROM claim_checks WHERE execution_id = ? AND subtask_id IN ({marks}) ORDER BY id", params).close()
    tx.execute(
        "INSERT INTO workspace_files (execution_id, path, sha256, size, is_text, content, subtask_id, agent,"
        " tool, updated_at) SELECT ?, path, sha256, size, is_text, content, subtask_id, agent, tool,"
        f" updated_at FROM workspace_files WHERE execution_id = ? AND subtask_id IN ({marks})",
        params).close()
    # The record of what the reused subtasks' tools did (tool calls, sources read, images made):
    # the fork's own event log tells its story whole.
    copied = (ev.TOOL_CALLED, ev.SOURCE_RECORDED, ev.CLAIMS_CHECKED, ev.IMAGE_GENERATED)
    found = tx.execute(
        "SELECT type, payload, created_at FROM events WHERE execution_id = ?"
        f" AND type IN ({','.join('?' * len(copied))})"
        f" AND json_extract(payload, '$.subtask_id') IN ({marks}) ORDER BY seq",
        (parent, *copied, *reused)).fetchall()
    for kind, payload, created in found:
        # As written (not re-validated: a payload from an older Podium still reads leniently).
        tx.execute("INSERT INTO events (execution_id, type, payload, created_at) VALUES (?, ?, ?, ?)",
                   (fork, kind, payload, created)).close()


def reused_usage(record: ForkRecord | None, subtasks: Iterable[Subtask]) -> Usage:
    """What the reused subtasks had cost their first run (not spent again by the fork)."""
    total = Usage()
    if record is None:
        return total
    for s in subtasks:
        reuse = record.reused.get(s.id)
        if reuse is not None and reuse.applied:
            total = total.add(s.usage)
    return total


# ---------------------------------------------------------------- importing a run from an archive

# A run's rows, table by table (parents first). An INTEGER PRIMARY KEY `id` is left for this file
# to number; message ids inside copied event payloads keep the archive's numbers.
_RUN_TABLES = ("executions", "plans", "subtasks", "messages", "consultations", "interventions", "reviews",
               "proposals", "tool_approvals", "workspace_files", "sources", "claim_checks", "run_workspaces",
               "run_forks", "fork_reuse")


async def _import(store: ProjectStore, archive: Path, run_id: str) -> str:
    if not archive.exists():
        raise PodiumError(f"{archive} does not exist")
    source = await ProjectStore.open(archive, readonly=True)
    try:
        row = await source.query_one("SELECT id FROM executions WHERE id = ?", (run_id,))
        if row is None:
            rows = await source.query("SELECT id FROM executions WHERE id LIKE ? LIMIT 2",
                                      (run_id.replace("%", "").replace("_", "\\_") + "%",))
            if len(rows) != 1 or not run_id:
                raise NotFoundError(f"no run {run_id!r} in {archive}" if not rows
                                    else f"run id {run_id!r} is ambiguous in {archive}; give more characters")
            row = rows[0]
        full = str(row[0])
        tables: dict[str, tuple[list[str], list[list[Any]]]] = {}
        for table in _RUN_TABLES:
            read = await _rows_of(source, table, full)
            if read is not None:
                tables[table] = read
        events = await source.query("SELECT type, payload, created_at FROM events WHERE execution_id = ?"
                                    " ORDER BY seq", (full,))
    finally:
        await source.close()
    if await store.query_one("SELECT 1 FROM executions WHERE id = ?", (full,)) is not None:
        return full
    here = {t: await _columns(store, t) for t in tables}

    def copy(tx: Tx) -> None:
        for table, (columns, values) in tables.items():
            keep = [i for i, c in enumerate(columns) if c in here[table]]
            names = ", ".join(columns[i] for i in keep)
            marks = ", ".join("?" * len(keep))
            for v in values:
                tx.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", [v[i] for i in keep]).close()
        # The lease of whoever ran it where the archive was made means nothing here.
        tx.execute("UPDATE executions SET owner = NULL, heartbeat_at = NULL WHERE id = ?", (full,)).close()
        # Kept as written (an older archive's payloads parse leniently when read), not re-validated.
        for e in events:
            tx.execute("INSERT INTO events (execution_id, type, payload, created_at) VALUES (?, ?, ?, ?)",
                       (full, e["type"], e["payload"], e["created_at"])).close()

    await store.write(copy)
    return full


async def _columns(store: ProjectStore, table: str) -> set[str]:
    rows = await store.query(f"PRAGMA table_info({table})")
    return {r["name"] for r in rows}


async def _rows_of(store: ProjectStore, table: str, run_id: str) -> tuple[list[str], list[list[Any]]] | None:
    info = await store.query(f"PRAGMA table_info({table})")
    if not info:
        return None  # an older archive without this table
    columns = [r["name"] for r in info]
    integer_id = any(r["name"] == "id" and r["pk"] == 1 and r["type"].upper() == "INTEGER" for r in info)
    if integer_id:
        columns.remove("id")
    key = "id" if table == "executions" else "execution_id"
    rows = await store.query(f"SELECT {', '.join(columns)} FROM {table} WHERE {key} = ?"
                             + (" ORDER BY id" if integer_id else ""), (run_id,))
    return columns, [list(r) for r in rows]
