"""Read-only questions about runs that the application layer asks (one method per question).

The write side and the engine's own reads live in runs.py and control.py; these are the
reads the front ends and the benches need (lists, headlines, reports, timings), each
answered with domain models, so no SQL has to sit outside `store/`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from podium.domain import (
    Consultation,
    Intervention,
    InterventionKind,
    RunHeadline,
    RunSummary,
    Usage,
)
from podium.errors import PodiumError
from podium.store.project import ProjectStore

# The columns a summary needs: never the result, team or settings (a list polls these often).
_SUMMARY = ("id, status, objective, team, model, prompt_tokens, completion_tokens, cost_usd, calls, steps,"
            " active_seconds, created_at, updated_at, finished_at")


def _usage(row: Any, *, trusted: bool = False) -> Usage:
    make = Usage.model_construct if trusted else Usage
    return make(prompt_tokens=row["prompt_tokens"], completion_tokens=row["completion_tokens"],
                cost_usd=row["cost_usd"], calls=row["calls"])


def _summary_fields(row: Any, *, trusted: bool = False) -> dict[str, Any]:
    return {
        "id": row["id"], "status": row["status"], "objective": row["objective"], "team": row["team"],
        "model": row["model"], "usage": _usage(row, trusted=trusted), "steps": row["steps"],
        "active_seconds": row["active_seconds"], "created_at": row["created_at"],
        "updated_at": row["updated_at"], "finished_at": row["finished_at"],
    }


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class RunQueries:
    """Answers about one project's runs. Stateless apart from the store."""

    def __init__(self, store: ProjectStore) -> None:
        self.store = store

    # ------------------------------------------------------------ runs

    async def summaries(self, limit: int = 500) -> list[RunSummary]:
        """The newest `limit` runs, newest first.

        Built without validation: the values are this file's own typed columns, and the terminal
        app polls this list every second (500 validated summaries cost ~7 ms of its event loop).
        """
        rows = await self.store.query(
            f"SELECT {_SUMMARY} FROM executions ORDER BY created_at DESC LIMIT ?", (limit,))
        return [RunSummary.model_construct(**_summary_fields(r, trusted=True)) for r in rows]

    async def summary(self, run_id: str) -> RunSummary | None:
        """The run with exactly this id, if there is one."""
        row = await self.store.query_one(f"SELECT {_SUMMARY} FROM executions WHERE id = ?", (run_id,))
        return None if row is None else RunSummary(**_summary_fields(row))

    async def find(self, id_or_prefix: str) -> RunSummary | None:
        """The run with this id, else the one run whose id starts with it (as people type ids);
        None when there is none; PodiumError when the prefix fits several."""
        found = await self.summary(id_or_prefix)
        if found is not None or not id_or_prefix:
            return found
        rows = await self.store.query(
            f"SELECT {_SUMMARY} FROM executions WHERE id LIKE ? ESCAPE '\\' ORDER BY created_at DESC LIMIT 2",
            (_like_prefix(id_or_prefix),))
        if len(rows) > 1:
            raise PodiumError(f"run id {id_or_prefix!r} is ambiguous; give more characters")
        return RunSummary(**_summary_fields(rows[0])) if rows else None

    async def headline(self, run_id: str) -> RunHeadline | None:
        """The run's summary and result (what a run screen shows before it folds the events)."""
        row = await self.store.query_one(f"SELECT {_SUMMARY}, result FROM executions WHERE id = ?", (run_id,))
        return None if row is None else RunHeadline(**_summary_fields(row), result=row["result"])

    async def subtask_usage(self, run_id: str) -> dict[str, Usage]:
        """Tokens, cost and calls per subtask, in plan order."""
        rows = await self.store.query(
            "SELECT id, prompt_tokens, completion_tokens, cost_usd, calls FROM subtasks"
            " WHERE execution_id = ? ORDER BY position", (run_id,))
        return {r["id"]: _usage(r) for r in rows}

    # ------------------------------------------------------------ a run's report

    async def consultations(self, run_id: str) -> list[Consultation]:
        """The run's consultations between agents, oldest first."""
        rows = await self.store.query(
            "SELECT * FROM consultations WHERE execution_id = ? ORDER BY id", (run_id,))
        return [Consultation(
            id=r["id"], execution_id=r["execution_id"], subtask_id=r["subtask_id"], asker=r["asker"],
            peer=r["peer"], question=r["question"], answer=r["answer"], error=r["error"], depth=r["depth"],
            usage=Usage(prompt_tokens=r["prompt_tokens"], completion_tokens=r["completion_tokens"],
                        cost_usd=r["cost_usd"]),
            started_at=r["started_at"], finished_at=r["finished_at"]) for r in rows]

    async def interventions(self, run_id: str, kinds: Iterable[InterventionKind] | None = None
                            ) -> list[Intervention]:
        """The control actions on the run (guidance, answers, pauses, ...; only `kinds` if
        given), oldest first, applied or not (`consumed_at`)."""
        sql = ("SELECT id, execution_id, kind, subtask_id, text, source, created_at, consumed_at"
               " FROM interventions WHERE execution_id = ?")
        params: list[Any] = [run_id]
        if kinds is not None:
            wanted = [k.value for k in kinds]
            sql += f" AND kind IN ({', '.join('?' * len(wanted))})"
            params += wanted
        rows = await self.store.query(sql + " ORDER BY id", params)
        return [Intervention(
            id=r["id"], execution_id=r["execution_id"], kind=InterventionKind(r["kind"]),
            subtask_id=r["subtask_id"], text=r["text"], source=r["source"], created_at=r["created_at"],
            consumed_at=r["consumed_at"]) for r in rows]

    async def event_count(self, run_id: str) -> int:
        """How many events the run's log holds."""
        row = await self.store.query_one("SELECT count(*) FROM events WHERE execution_id = ?", (run_id,))
        return int(row[0]) if row is not None else 0

    async def event_times(self, run_id: str, type: str) -> list[tuple[float, dict[str, Any]]]:
        """(when, payload) of the run's events of one type, oldest first (benches time these)."""
        events = await self.store.query(
            "SELECT created_at, payload FROM events WHERE execution_id = ? AND type = ? ORDER BY seq",
            (run_id, type))
        return [(float(r[0]), json.loads(r[1])) for r in events]

    # ------------------------------------------------------------ tool approvals

    async def approval_run(self, approval_id: int) -> str | None:
        """The run a tool approval belongs to; None when there is no such approval."""
        row = await self.store.query_one("SELECT execution_id FROM tool_approvals WHERE id = ?",
                                         (approval_id,))
        return None if row is None else row[0]
