"""Rows of steering: consultations, help requests, interventions applied, quality reviews.

Like runs.py, every write is one transaction with its event(s), so another
process tailing the event log (or the TUI) never sees a state the file
does not hold.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from podium import events as ev
from podium.domain import ExecutionStatus, InterventionKind, Message, Subtask, SubtaskStatus, Usage
from podium.store.project import ProjectStore, Tx
from podium.store.runs import (
    _insert_message,
    _record_usage,
    _set_status,
    _status_of,
    _subtask_status,
    release_review,
)

# Control actions that only make sense to the process that was running the run when they were
# written; left unconsumed by a process that has gone, they must not surprise the next one.
# Who decides in an automatic review (review="auto"): `reviews.decided_by` of the leader's reworks.
LEADER = "leader"

TRANSIENT_KINDS = (InterventionKind.PAUSE, InterventionKind.RESUME, InterventionKind.HALT,
                   InterventionKind.ACCEPT, InterventionKind.REWORK, InterventionKind.PLAN_CHANGE)


@dataclass(frozen=True)
class PendingIntervention:
    id: int
    kind: InterventionKind
    subtask_id: str | None
    text: str
    source: str
    created_at: float


@dataclass(frozen=True)
class ReviewRecord:
    round: int
    result: str | None
    verdict: dict[str, Any]
    decision: str | None
    feedback: str | None
    subtasks: list[str]
    decided_by: str | None


class ControlRepository:
    def __init__(self, store: ProjectStore) -> None:
        self.store = store

    # ------------------------------------------------------------ consultations

    async def start_consultation(self, run_id: str, subtask: Subtask, *, asker: str, peer: str, question: str,
                                 depth: int, wait: bool, question_message: Message) -> int:
        """The row, its event, the asker shown waiting on its peer, and the question in the
        peer's transcript: one transaction."""

        def write(tx: Tx) -> int:
            cur = tx.execute(
                "INSERT INTO consultations (execution_id, subtask_id, asker, peer, question, depth,"
                " started_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, subtask.id, asker, peer, question, depth, time.time()))
            cid = int(cur.lastrowid)
            cur.close()
            tx.emit(ev.CONSULTATION_STARTED, run_id, id=cid, subtask_id=subtask.id, asker=asker, peer=peer,
                    question=question, depth=depth)
            if wait:
                _subtask_status(tx, run_id, subtask, SubtaskStatus.WAITING_PEER, reason=f"asked {peer}")
            _insert_message(tx, question_message)
            return cid

        return await self.store.write(write, messages=[question_message])

    async def finish_consultation(self, run_id: str, subtask: Subtask, cid: int, *, asker: str, peer: str,
                                  answer: str | None, error: str | None, usage: Usage, resume: bool,
                                  elapsed_s: float) -> None:
        def write(tx: Tx) -> None:
            tx.execute(
                "UPDATE consultations SET answer = ?, error = ?, prompt_tokens = ?, completion_tokens = ?,"
                " cost_usd = ?, finished_at = ? WHERE id = ?",
                (answer, error, usage.prompt_tokens, usage.completion_tokens, usage.cost_usd, time.time(),
                 cid))
            payload: dict[str, Any] = {"id": cid, "subtask_id": subtask.id, "asker": asker, "peer": peer,
                                       "tokens": usage.tokens, "cost_usd": usage.cost_usd,
                                       "seconds": round(elapsed_s, 3)}
            if answer is not None:
                payload["answer"] = answer
            if error is not None:
                payload["error"] = error
            tx.emit(ev.CONSULTATION_FINISHED, run_id, **payload)
            if resume and _subtask_is(tx, run_id, subtask.id, SubtaskStatus.WAITING_PEER):
                _subtask_status(tx, run_id, subtask, SubtaskStatus.RUNNING, reason=f"{peer} answered")

        await self.store.write(write)

    async def consultations_used(self, run_id: str, subtask_id: str) -> int:
        """Consultations a subtask made (nested ones on its behalf included) since the human last
        sent work back for rework: a re-opened subtask is a new attempt with its own allowance."""
        row = await self.store.query_one(
            "SELECT count(*) FROM consultations WHERE execution_id = ? AND subtask_id = ? AND started_at >="
            " coalesce((SELECT max(decided_at) FROM reviews"
            " WHERE execution_id = ? AND decision = 'rework'), 0)",
            (run_id, subtask_id, run_id))
        return int(row[0]) if row else 0

    async def add_message(self, message: Message, *, run_usage: Usage, steps: int, elapsed: float) -> int:
        def write(tx: Tx) -> int:
            mid = _insert_message(tx, message)
            _record_usage(tx, message, run_usage, steps, elapsed)
            return mid

        return await self.store.write(write, messages=[message])

    # ------------------------------------------------------------ help requests

    async def request_help(self, run_id: str, subtask: Subtask, question: str) -> None:
        def write(tx: Tx) -> None:
            _subtask_status(tx, run_id, subtask, SubtaskStatus.NEEDS_HELP, reason="asked the human")
            tx.emit(ev.HELP_REQUESTED, run_id, subtask_id=subtask.id, agent=subtask.agent, question=question)

        await self.store.write(write)

    async def help_answered(self, run_id: str, subtask: Subtask) -> None:
        def write(tx: Tx) -> None:
            if _subtask_is(tx, run_id, subtask.id, SubtaskStatus.NEEDS_HELP):
                _subtask_status(tx, run_id, subtask, SubtaskStatus.RUNNING, reason="the human answered")

        await self.store.write(write)

    async def answered_help(self, run_id: str) -> dict[str, list[tuple[str, str]]]:
        """Per subtask, the questions it asked the human with the answer each got (the first
        answer after the question), for agents restarted after a halt or crash."""
        asked = await self.store.query(
            "SELECT json_extract(payload, '$.subtask_id'), json_extract(payload, '$.question'), created_at"
            " FROM events WHERE execution_id = ? AND type = ? ORDER BY seq", (run_id, ev.HELP_REQUESTED))
        answers = await self.store.query(
            "SELECT subtask_id, text, created_at FROM interventions WHERE execution_id = ? AND kind = ?"
            " ORDER BY id", (run_id, InterventionKind.ANSWER.value))
        pairs: dict[str, list[tuple[str, str]]] = {}
        used: set[int] = set()
        for sid, question, at in asked:
            for i, (asid, text, aat) in enumerate(answers):
                if i not in used and asid == sid and aat >= at:
                    used.add(i)
                    pairs.setdefault(sid, []).append((question or "", text or ""))
                    break
        return pairs

    # ------------------------------------------------------------ interventions from other processes

    async def pending(self, run_id: str) -> list[PendingIntervention]:
        """Rows no running process has applied yet (the `interventions_pending` index)."""
        rows = await self.store.query(
            "SELECT id, kind, subtask_id, text, source, created_at FROM interventions"
            " WHERE execution_id = ? AND consumed_at IS NULL ORDER BY id", (run_id,))
        return [PendingIntervention(r[0], InterventionKind(r[1]), r[2], r[3] or "", r[4], r[5]) for r in rows]

    async def last_id(self, run_id: str) -> int:
        """The run's last intervention id (0: none): what was sent to it up to now."""
        row = await self.store.query_one(
            "SELECT coalesce(max(id), 0) FROM interventions WHERE execution_id = ?", (run_id,))
        return int(row[0]) if row else 0

    async def halts_between(self, run_id: str, after: int, upto: int) -> list[PendingIntervention]:
        """Halts written after row `after` up to row `upto`, taken up or not, oldest first: those
        sent between a resume being asked for and its session taking the run."""
        rows = await self.store.query(
            "SELECT id, kind, subtask_id, text, source, created_at FROM interventions"
            " WHERE execution_id = ? AND kind = ? AND id > ? AND id <= ? ORDER BY id",
            (run_id, InterventionKind.HALT.value, after, upto))
        return [PendingIntervention(r[0], InterventionKind(r[1]), r[2], r[3] or "", r[4], r[5]) for r in rows]

    async def consume(self, run_id: str, item: PendingIntervention, *, by: str, applied: bool = True,
                      reason: str | None = None) -> bool:
        """Mark a row applied by this process (with its event and the status it implies); a plan
        change says whether it was `applied` and how (`reason`: what it did, or why not).

        False if another process took it first.
        """

        def write(tx: Tx) -> bool:
            now = time.time()
            cur = tx.execute("UPDATE interventions SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL",
                             (now, item.id))
            taken = cur.rowcount == 1
            cur.close()
            if not taken:
                return False
            tx.emit(ev.INTERVENTION_APPLIED, run_id, id=item.id, kind=item.kind.value,
                    subtask_id=item.subtask_id, by=by, latency_ms=round((now - item.created_at) * 1000, 1),
                    applied=applied, reason=reason)
            current = ExecutionStatus(_status_of(tx, run_id))
            if item.kind is InterventionKind.PAUSE and current is ExecutionStatus.RUNNING:
                _set_status(tx, run_id, ExecutionStatus.PAUSED, f"paused by {item.source}")
            elif item.kind is InterventionKind.RESUME and current is ExecutionStatus.PAUSED:
                _set_status(tx, run_id, ExecutionStatus.RUNNING, f"resumed by {item.source}")
            return True

        return await self.store.write(write)

    async def outcome(self, run_id: str, intervention_id: int) -> tuple[bool, str | None]:
        """Whether the process that took up a row applied it, and what it said."""
        row = await self.store.query_one(
            "SELECT json_extract(payload, '$.applied'), json_extract(payload, '$.reason') FROM events"
            " WHERE execution_id = ? AND type = ? AND json_extract(payload, '$.id') = ?"
            " ORDER BY seq DESC LIMIT 1", (run_id, ev.INTERVENTION_APPLIED, intervention_id))
        if row is None:
            return False, "not taken up"
        return bool(row[0]) if row[0] is not None else True, row[1]

    async def pause_requested(self, run_id: str) -> bool:
        """A pause was asked for since the run's status last changed and no resume came after it:
        one that has not taken effect yet (another process's pause during the synthesis call
        leaves the status alone until the call returns)."""
        row = await self.store.query_one(
            "SELECT type, json_extract(payload, '$.kind') FROM events WHERE execution_id = ? AND"
            " (type = ? OR (type = ? AND json_extract(payload, '$.kind') IN (?, ?)))"
            " ORDER BY seq DESC LIMIT 1",
            (run_id, ev.RUN_STATUS, ev.INTERVENTION, InterventionKind.PAUSE.value,
             InterventionKind.RESUME.value))
        return row is not None and row[0] == ev.INTERVENTION and row[1] == InterventionKind.PAUSE.value

    async def sweep_stale(self, run_id: str, *, by: str, upto: int | None = None) -> int:
        """At the start of a session: close pause/resume/halt/review rows a previous process
        never took up (it ended first), so they do not act on this session. `upto`: the last
        intervention id when this session claimed the run; rows after it were written for this
        session (a halt sent right after the claim) and stay for its watcher."""
        kinds = tuple(k.value for k in TRANSIENT_KINDS)
        limit = upto if upto is not None else -1

        def write(tx: Tx) -> int:
            rows = tx.execute(
                f"SELECT id, kind FROM interventions WHERE execution_id = ? AND consumed_at IS NULL"
                f" AND kind IN ({','.join('?' * len(kinds))}) AND (? < 0 OR id <= ?)",
                (run_id, *kinds, limit, limit)).fetchall()
            now = time.time()
            for rid, kind in rows:
                tx.execute("UPDATE interventions SET consumed_at = ? WHERE id = ?", (now, rid)).close()
                tx.emit(ev.INTERVENTION_APPLIED, run_id, id=rid, kind=kind, by=by, applied=False,
                        reason="stale: the process it was meant for had stopped")
            return len(rows)

        return await self.store.write(write)

    async def mark_consumed(self, ids: list[int]) -> None:
        """Rows whose effect a new session already has (guidance replayed, answers as context)."""
        if not ids:
            return

        def write(tx: Tx) -> None:
            now = time.time()
            for rid in ids:
                tx.execute("UPDATE interventions SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL",
                           (now, rid)).close()

        await self.store.write(write)

    async def wait_consumed(self, intervention_id: int, timeout: float, poll: float = 0.05) -> float | None:
        """Seconds until a running process applied the row, or None if it did not in time."""
        import asyncio

        deadline = time.monotonic() + timeout
        while True:
            row = await self.store.query_one(
                "SELECT consumed_at - created_at FROM interventions WHERE id = ? AND consumed_at IS NOT NULL",
                (intervention_id,))
            if row is not None:
                return float(row[0])
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(poll)

    # ------------------------------------------------------------ quality review

    async def latest_review(self, run_id: str) -> ReviewRecord | None:
        row = await self.store.query_one(
            "SELECT * FROM reviews WHERE execution_id = ? ORDER BY round DESC LIMIT 1", (run_id,))
        if row is None:
            return None
        return ReviewRecord(round=row["round"], result=row["result"], verdict=json.loads(row["verdict_json"]),
                            decision=row["decision"], feedback=row["feedback"],
                            subtasks=json.loads(row["subtasks_json"]), decided_by=row["decided_by"])

    async def reviews(self, run_id: str) -> list[dict[str, Any]]:
        rows = await self.store.query("SELECT * FROM reviews WHERE execution_id = ? ORDER BY round",
                                      (run_id,))
        return [{"round": r["round"], "verdict": json.loads(r["verdict_json"]), "decision": r["decision"],
                 "feedback": r["feedback"], "subtasks": json.loads(r["subtasks_json"]),
                 "decided_by": r["decided_by"], "created_at": r["created_at"], "decided_at": r["decided_at"]}
                for r in rows]

    async def add_review(self, run_id: str, *, result: str, verdict: dict[str, Any], message: Message | None,
                         run_usage: Usage, steps: int, elapsed: float, status: ExecutionStatus,
                         summary: str | None, decided_by: str | None, hold: bool = False) -> tuple[int, bool]:
        """The leader's verdict (its message, the review row and its event), the result, and the
        run's status (review: waits for the human; completed/partial: accepted automatically).

        Returns (round, settled). A run paused meanwhile (or `hold`: the engine knows of a pause
        the status does not show) keeps its pause: only the verdict is recorded and the result,
        decision and status wait for `settle_review` after the resume, as if the pause had come
        after the review.
        """

        def write(tx: Tx) -> tuple[int, bool]:
            row = tx.execute("SELECT coalesce(max(round), 0) FROM reviews WHERE execution_id = ?",
                             (run_id,)).fetchone()
            number = int(row[0]) + 1
            if message is not None:
                mid = _insert_message(tx, message)
                _record_usage(tx, message, run_usage, steps, elapsed)
            else:
                mid = None
            tx.execute(
                "INSERT INTO reviews (execution_id, round, result, verdict_json, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (run_id, number, result, json.dumps(verdict), time.time())).close()
            tx.emit(ev.REVIEW_VERDICT, run_id, round=number, message_id=mid, **verdict)
            if hold or _status_of(tx, run_id) == ExecutionStatus.PAUSED.value:
                return number, False
            _settle_review(tx, run_id, number, result=result, verdict=verdict, status=status, summary=summary,
                           decided_by=decided_by)
            return number, True

        return await self.store.write(write, messages=[message] if message is not None else [])

    async def settle_review(self, run_id: str, number: int, *, result: str, verdict: dict[str, Any],
                            status: ExecutionStatus, summary: str | None, decided_by: str | None) -> bool:
        """After a pause held a recorded verdict: the result, the automatic decision (if any) and
        the run's status. False (nothing written) while the run is paused again."""

        def write(tx: Tx) -> bool:
            if _status_of(tx, run_id) == ExecutionStatus.PAUSED.value:
                return False
            _settle_review(tx, run_id, number, result=result, verdict=verdict, status=status, summary=summary,
                           decided_by=decided_by)
            return True

        return await self.store.write(write)

    async def leader_reworks(self, run_id: str) -> int:
        """How many times the leader's automatic review sent this run's work back for rework."""
        row = await self.store.query_one(
            "SELECT count(*) FROM reviews WHERE execution_id = ? AND decision = 'rework' AND decided_by = ?",
            (run_id, LEADER))
        return int(row[0]) if row else 0

    async def leader_rework(self, run_id: str, number: int, *, feedback: str, subtasks: list[str],
                            reopen: list[Subtask]) -> None:
        """The automatic review's decision on a failing verdict (round `number`, recorded): the named
        subtasks and what depends on them back to pending, the rest done, the run running again."""
        what = ", ".join(s.id for s in reopen) or "the synthesis"

        def write(tx: Tx) -> None:
            now = time.time()
            tx.execute("UPDATE reviews SET decision = 'rework', feedback = ?, subtasks_json = ?,"
                       " decided_by = ?, decided_at = ? WHERE execution_id = ? AND round = ?",
                       (feedback, json.dumps(subtasks), LEADER, now, run_id, number)).close()
            tx.emit(ev.REVIEW_DECIDED, run_id, round=number, decision="rework", feedback=feedback,
                    subtasks=subtasks, reopened=[s.id for s in reopen], by=LEADER)
            for s in reopen:
                _subtask_status(tx, run_id, s, SubtaskStatus.PENDING,
                                reason="sent back for rework by the leader")
            release_review(tx, run_id, "passed the leader's review")
            _set_status(tx, run_id, ExecutionStatus.RUNNING, f"sent back for rework by the leader: {what}")

        await self.store.write(write)

    async def decide_review(self, run_id: str, *, decision: str, feedback: str | None, subtasks: list[str],
                            reopen: list[Subtask], by: str, source: str, status: ExecutionStatus,
                            reason: str) -> None:
        """The human's decision: the intervention row (consumed: applied here), the review row,
        re-opened subtasks back to pending, and the run's new status, in one transaction."""
        kind = InterventionKind.ACCEPT if decision == "accept" else InterventionKind.REWORK

        def write(tx: Tx) -> None:
            current = ExecutionStatus(_status_of(tx, run_id))
            if current is not ExecutionStatus.REVIEW:
                from podium.errors import PodiumError

                raise PodiumError(f"run {run_id} is {current.value}; only a result awaiting review can be "
                                  "accepted or sent back")
            row = tx.execute("SELECT max(round) FROM reviews WHERE execution_id = ?", (run_id,)).fetchone()
            number = int(row[0] or 0)
            now = time.time()
            cur = tx.execute(
                "INSERT INTO interventions (execution_id, kind, subtask_id, text, source, created_at,"
                " consumed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, kind.value, ",".join(subtasks) or None, feedback or "", source, now, now))
            iid = int(cur.lastrowid)
            cur.close()
            tx.emit(ev.INTERVENTION, run_id, id=iid, kind=kind.value, subtask_id=",".join(subtasks) or None,
                    text=feedback or "", source=source)
            tx.execute("UPDATE reviews SET decision = ?, feedback = ?, subtasks_json = ?, decided_by = ?,"
                       " decided_at = ? WHERE execution_id = ? AND round = ?",
                       (decision, feedback, json.dumps(subtasks), by, now, run_id, number)).close()
            tx.emit(ev.REVIEW_DECIDED, run_id, round=number, decision=decision, feedback=feedback,
                    subtasks=subtasks, reopened=[s.id for s in reopen], by=by)
            for s in reopen:
                _subtask_status(tx, run_id, s, SubtaskStatus.PENDING, reason=f"sent back for rework by {by}")
            release_review(tx, run_id, f"reviewed by {by}")
            _set_status(tx, run_id, status, reason)

        await self.store.write(write)


def _subtask_is(tx: Tx, run_id: str, subtask_id: str, status: SubtaskStatus) -> bool:
    row = tx.execute("SELECT status FROM subtasks WHERE execution_id = ? AND id = ?",
                     (run_id, subtask_id)).fetchone()
    return row is not None and row[0] == status.value


def _settle_review(tx: Tx, run_id: str, number: int, *, result: str, verdict: dict[str, Any],
                   status: ExecutionStatus, summary: str | None, decided_by: str | None) -> None:
    reason = summary
    if decided_by:
        decided = "accepted automatically" if verdict.get("ok") is not False else \
            "not accepted: criteria unmet"
        reason = "; ".join(x for x in (summary, f"review: {verdict.get('overall', '')}", decided) if x)
        tx.execute("UPDATE reviews SET decision = 'accept', decided_by = ?, decided_at = ?"
                   " WHERE execution_id = ? AND round = ?", (decided_by, time.time(), run_id, number)).close()
        tx.emit(ev.REVIEW_DECIDED, run_id, round=number, decision="accept", subtasks=[], reopened=[],
                by=decided_by)
        release_review(tx, run_id, "reviewed")
    # The result and the status come last, as without review: followers key on that order.
    tx.execute("UPDATE executions SET result = ? WHERE id = ?", (result, run_id)).close()
    tx.emit(ev.RUN_RESULT, run_id, result=result)
    _set_status(tx, run_id, status, reason)
