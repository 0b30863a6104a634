"""Typed queries: what the front ends read about runs, as domain models.

The terminal app's home table and `podium runs` read `runs()`, a run's screen seeds
from `headline()`, `podium show` reads `detail()`; `board()` and `usage()` answer for
one run. Every answer comes from repository methods in `store/`: no SQL here.

The run screen folds events for its live state; nothing here is meant to run per
event or per keypress.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from podium.citations import RunSources
from podium.domain import (
    Execution,
    ExecutionStatus,
    Intervention,
    PlanVersion,
    RunBoard,
    RunDetail,
    RunHeadline,
    RunSummary,
    RunUsage,
)
from podium.errors import NotFoundError, PodiumError
from podium.store.control import ControlRepository
from podium.store.fork import ForkRecord, ForkRepository
from podium.store.project import ProjectStore
from podium.store.queries import RunQueries
from podium.store.runs import PlanRecord, RunRepository
from podium.store.sources import SourceRepository

RUNS_LIMIT = 500  # the home table lists this many runs, newest first


class AwaitingReview(BaseModel):
    """A result awaiting the person's review, with the leader's latest verdict (if it gave one)."""

    execution: Execution
    round: int | None = None
    verdict: dict[str, Any] | None = None


def plan_version(record: PlanRecord) -> PlanVersion:
    """A stored plan version as the front ends read it."""
    return PlanVersion(version=record.version, plan=record.plan, status=record.status,
                       feedback=record.feedback, fallback=record.fallback, created_at=record.created_at,
                       author=record.author)


class Queries:
    """The read side of a project session (`session.queries`), over one open store."""

    def __init__(self, store: ProjectStore) -> None:
        self.store = store
        self._runs = RunRepository(store)
        self._reads = RunQueries(store)

    # ------------------------------------------------------------ lists

    async def runs(self, limit: int = RUNS_LIMIT) -> list[RunSummary]:
        """The newest runs, newest first: status, objective, team, model, usage, times."""
        return await self._reads.summaries(limit)

    async def run(self, run_id: str) -> RunSummary | None:
        """The run with exactly this id, or None."""
        return await self._reads.summary(run_id)

    async def find_run(self, id_or_prefix: str) -> RunSummary | None:
        """The run with this id or unique id prefix, or None (PodiumError: the prefix is ambiguous)."""
        return await self._reads.find(id_or_prefix)

    # ------------------------------------------------------------ one run

    async def headline(self, run_id: str) -> RunHeadline | None:
        """The run's summary and result, or None when there is no such run."""
        return await self._reads.headline(run_id)

    async def detail(self, run_id: str) -> RunDetail:
        """The run in full, by id or unique prefix; NotFoundError when there is none."""
        execution = await self._runs.get_execution(run_id)
        run_id = execution.id
        plans = [plan_version(p) for p in await self._runs.plans(run_id)]
        history = await self._runs.settings_history(run_id) if execution.settings is not None else []
        return RunDetail(
            execution=execution, team=await self._runs.get_team(run_id),
            messages=await self._runs.messages(run_id), plans=plans,
            subtasks=await self._runs.subtasks(run_id),
            consultations=await self._reads.consultations(run_id),
            interventions=await self._reads.interventions(run_id),
            reviews=await ControlRepository(self.store).reviews(run_id),
            settings_history=history, events=await self._reads.event_count(run_id),
        )

    async def lineage(self, run_id: str) -> ForkRecord | None:
        """The run's fork record (its parent, fork points, edits, reused subtasks); None: not a fork."""
        return await ForkRepository(self.store).lineage(run_id)

    async def forks(self) -> dict[str, tuple[str, list[str]]]:
        """Every fork in the project: run id -> (parent id, the subtasks it re-ran from or edited)."""
        return await ForkRepository(self.store).parents()

    async def sources(self, run_id: str) -> RunSources:
        """The sources the run's subtasks read (web_search hits, fetch_url pages) and the claims
        its fact-checkers checked against them; empty for a run that read none."""
        repo = SourceRepository(self.store)
        return RunSources(sources=await repo.for_run(run_id), checks=await repo.checks(run_id))

    async def board(self, run_id: str) -> RunBoard:
        """The run's subtasks as cards by column (empty columns when no plan is approved yet)."""
        summary = await self._reads.summary(run_id)
        if summary is None:
            raise NotFoundError(f"no run {run_id!r} in {self.store.path}")
        return RunBoard.of(run_id, await self._runs.subtasks(run_id))

    async def usage(self, run_id: str) -> RunUsage:
        """Tokens, cost and calls in total and per subtask, steps and active seconds."""
        summary = await self._reads.summary(run_id)
        if summary is None:
            raise NotFoundError(f"no run {run_id!r} in {self.store.path}")
        return RunUsage(run_id=run_id, total=summary.usage, steps=summary.steps,
                        active_seconds=summary.active_seconds,
                        by_subtask=await self._reads.subtask_usage(run_id))

    async def awaiting_review(self, run_id: str) -> AwaitingReview:
        """The run (by id or unique prefix) whose result awaits review, and the leader's verdict;
        PodiumError when it does not await one."""
        execution = await self._runs.get_execution(run_id)
        if execution.status is not ExecutionStatus.REVIEW:
            raise PodiumError(f"run {execution.id} is {execution.status.value}; no result awaits review")
        latest = await ControlRepository(self.store).latest_review(execution.id)
        if latest is None:
            return AwaitingReview(execution=execution)
        return AwaitingReview(execution=execution, round=latest.round, verdict=latest.verdict)

    async def interventions(self, run_id: str) -> list[Intervention]:
        """The control actions on the run, oldest first, applied or not."""
        return await self._reads.interventions(run_id)

    async def event_times(self, run_id: str, type: str) -> list[tuple[float, dict[str, Any]]]:
        """(when, payload) of the run's events of one type, oldest first (benches time these)."""
        return await self._reads.event_times(run_id, type)

    # ------------------------------------------------------------ tool approvals

    async def approval_run(self, approval_id: int) -> str | None:
        """The run a tool approval belongs to; None when there is no such approval."""
        return await self._reads.approval_run(approval_id)
