"""`podium work`: the team's heartbeat. Take the highest-priority ready card, run it, move it.

Each card is worked as a normal run (plan, approval per `approve`, execute,
the leader's review), linked to the card. Up to `parallel` cards at once.
Claiming is atomic in the file (store.cards.claim_next), so several workers on
one project never take the same card. Cards a dead worker left in progress
are taken over first and their runs resumed (finished subtasks kept).

Stopping (`stop()`, Ctrl-C) halts the runs in flight; their cards stay In
progress with no worker, so the next `podium work` resumes them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from podium.app.drive import PlanDecision
from podium.domain import Budget, Card, CardColumn, Execution, ExecutionStatus
from podium.errors import PodiumError
from podium.store.cards import CardRepository, worker_alive
from podium.store.runs import lease_owner

if TYPE_CHECKING:
    from podium.app.session import ProjectSession
    from podium.domain import PlanVersion

log = logging.getLogger(__name__)

Approval = Literal["auto", "leader", "human"]

# Where a card goes when its run ends like this.
_COLUMN_FOR = {
    ExecutionStatus.COMPLETED: CardColumn.DONE,
    ExecutionStatus.FAILED: CardColumn.FAILED,
    ExecutionStatus.PARTIAL: CardColumn.NEEDS_HELP,
    ExecutionStatus.REVIEW: CardColumn.REVIEW,
}


class WorkOptions(BaseModel):
    team: str | None = None  # cards without a team run with this one (default: research)
    parallel: int = Field(default=1, ge=1, le=64)
    approve: Approval = "leader"
    watch: bool = False
    budget: Budget = Field(default_factory=Budget)  # per card
    total_usd: float | None = Field(default=None, ge=0)
    total_tokens: int | None = Field(default=None, ge=1)
    poll_s: float = Field(default=1.0, gt=0)  # --watch: how often To do is looked at


class CardWorked(BaseModel):
    card: str
    run_id: str
    status: str
    column: str


class WorkSummary(BaseModel):
    worked: list[CardWorked] = Field(default_factory=list)
    stopped: str | None = None  # why it stopped before To do was empty
    cost_usd: float = 0.0
    tokens: int = 0


Report = Callable[[str], None]


class _CardDriver:
    """The drive's front end for a card: plans are approved by policy, nobody is asked."""

    def __init__(self, approve: Approval) -> None:
        self.approve = approve

    def planning(self) -> None:
        pass

    async def decide_plan(self, latest: PlanVersion) -> PlanDecision:
        if self.approve == "human":
            return PlanDecision(action="stop")
        return PlanDecision(action="approve", by="leader" if self.approve == "leader" else "podium work")

    async def execute(self, run_id: str, run: Callable[[], Awaitable[Execution]]) -> Execution:
        return await run()


class Worker:
    def __init__(self, session: ProjectSession, options: WorkOptions, *,
                 report: Report | None = None) -> None:
        self.session = session
        self.options = options
        self.cards = CardRepository(session.store)
        self.name = lease_owner()  # host:pid, as a run's lease: store.cards.worker_alive reads it
        self.report: Report = report or (lambda line: None)
        self.summary = WorkSummary()
        self._stopping: str | None = None
        self._wake = asyncio.Event()
        self._active: dict[int, str | None] = {}  # card id -> its run id once created

    # ------------------------------------------------------------ control

    def stop(self, reason: str = "stopped from the terminal") -> None:
        """Take no more cards and halt the runs in flight (they resume with the next worker)."""
        if self._stopping is not None:
            return
        self._stopping = reason
        self._wake.set()
        for run_id in self._active.values():
            if run_id is not None:
                asyncio.get_running_loop().create_task(
                    self.session.halt(run_id, "the worker stopped; `podium work` resumes it", source="work"))

    # ------------------------------------------------------------ the loop

    async def run(self) -> WorkSummary:
        if self.options.team:
            self.session.get_team(self.options.team)  # an unknown team: a clear error before anything
        await self.session.ensure_engine()
        await self._sync_finished()
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                await self._fill(running)
                if not running and (self._stopping is not None or self.summary.stopped is not None
                                    or not self.options.watch):
                    break
                await self._wait(running)
        finally:
            if running:
                self.stop("the worker is stopping")
                await asyncio.gather(*running, return_exceptions=True)
        if self._stopping is not None:
            self.summary.stopped = self._stopping
        return self.summary

    async def _fill(self, running: set[asyncio.Task[None]]) -> None:
        """Take cards until every slot is busy, To do has nothing ready, or the budget is spent."""
        while self._stopping is None and len(running) < self.options.parallel:
            if self._over_budget():
                if self.summary.stopped is None:
                    self.summary.stopped = "the total budget is spent"
                    self.report("total budget spent: no more cards are taken")
                return
            card = await self._take()
            if card is None:
                return
            task = asyncio.create_task(self._work(card), name=f"card:{card.ref}")
            running.add(task)
            task.add_done_callback(lambda _t: self._wake.set())

    async def _wait(self, running: set[asyncio.Task[None]]) -> None:
        """Until a card finishes, `stop()`, or (with a free slot, or --watch) the next look at To do."""
        self._wake.clear()
        wake = asyncio.ensure_future(self._wake.wait())
        free = self.options.watch or len(running) < self.options.parallel
        await asyncio.wait({wake, *running}, timeout=self.options.poll_s if free else None,
                           return_when=asyncio.FIRST_COMPLETED)
        wake.cancel()
        for task in [t for t in running if t.done()]:
            running.discard(task)
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]  # _work catches all but bugs

    async def _sync_finished(self) -> None:
        """Cards waiting on a person whose run has since finished (approved and run from another
        terminal) move to where that run ended."""
        for card in await self.cards.all():
            if card.column not in (CardColumn.REVIEW, CardColumn.NEEDS_HELP) or not card.runs:
                continue
            execution = await self.session.runs.get_execution(card.runs[-1])
            column = _COLUMN_FOR.get(execution.status)
            if column is not None and column is not card.column and execution.status.finished:
                await self.cards.move(card.id, column, by=self.name, run_id=execution.id,
                                      result=execution.result, action="finished")

    async def _take(self) -> Card | None:
        """A card a dead worker left in progress (taken over), else the next ready one in To do."""
        for card in await self.cards.in_progress():
            if card.id in self._active or await worker_alive(self.session.store, card):
                continue
            if await self.cards.claim(card.id, self.name, expected=card.claimed_by):
                self.report(f"{card.ref} taken over (its worker is gone): {card.title}")
                return await self.cards.get(card.id)
        claimed = await self.cards.claim_next(self.name, team=self.options.team)
        if claimed is not None:
            self.report(f"{claimed.ref} claimed: {claimed.title}")
        return claimed

    def _over_budget(self) -> bool:
        o = self.options
        return ((o.total_usd is not None and self.summary.cost_usd >= o.total_usd)
                or (o.total_tokens is not None and self.summary.tokens >= o.total_tokens))

    async def _work(self, card: Card) -> None:
        self._active[card.id] = None
        try:
            run_id = await self._run_for(card)
            self._active[card.id] = run_id
            if self._stopping is not None:
                await self._release(card, run_id)
                return
            try:
                outcome = await self.session.drive(run_id, _CardDriver(self.options.approve))
                execution = outcome.execution
            except PodiumError as exc:
                await self.cards.move(card.id, CardColumn.NEEDS_HELP, by=self.name, run_id=run_id,
                                      result=str(exc), action="finished")
                self.report(f"{card.ref} needs help: {exc}")
                return
            self.summary.cost_usd += execution.usage.cost_usd
            self.summary.tokens += execution.usage.tokens
            await self._settle(card, execution, outcome.left_for_approval)
        except Exception as exc:  # one card's breakage must not stop the others
            log.exception("working %s failed", card.ref)
            await self.cards.move(card.id, CardColumn.NEEDS_HELP, by=self.name,
                                  result=f"internal error: {exc!r}", action="finished")
            self.report(f"{card.ref} needs help: internal error: {exc!r}")
        finally:
            self._active.pop(card.id, None)

    async def _run_for(self, card: Card) -> str:
        """The card's unfinished run (resumed), or a new one."""
        if card.runs:
            last = await self.session.runs.get_execution(card.runs[-1])
            if not last.status.finished and last.status is not ExecutionStatus.REVIEW:
                self.report(f"{card.ref} resumes run {last.id}")
                return last.id
        team = card.team or self.options.team or "research"
        execution = await self.session.create_run(card.objective(), team, budget=self.options.budget)
        await self.cards.link_run(card.id, execution.id, by=self.name)
        self.report(f"{card.ref} run {execution.id} started ({team} team)")
        return execution.id

    async def _settle(self, card: Card, execution: Execution, left_for_approval: bool) -> None:
        note: str | None
        if left_for_approval:
            column, note = CardColumn.REVIEW, f"its plan awaits your approval: `podium resume {execution.id}`"
        elif execution.status in _COLUMN_FOR:
            column, note = _COLUMN_FOR[execution.status], execution.result
        elif self._stopping is not None:
            await self._release(card, execution.id)
            return
        else:  # halted by a person, paused, or a budget stop: a person decides what next
            reason = await self.session.runs.status_reason(execution.id)
            column = CardColumn.NEEDS_HELP
            note = f"run {execution.status.value}" + (f": {reason}" if reason else "")
        await self.cards.move(card.id, column, by=self.name, run_id=execution.id, result=note,
                              action="finished")
        self.summary.worked.append(CardWorked(card=card.ref, run_id=execution.id,
                                              status=execution.status.value, column=column.value))
        self.report(f"{card.ref} → {column.label} (run {execution.id} {execution.status.value})")

    async def _release(self, card: Card, run_id: str) -> None:
        """Stopping: the card stays In progress with no worker; the next worker resumes its run."""
        await self.cards.release(card.id, self.name)
        self.report(f"{card.ref} left in progress; `podium work` resumes run {run_id}")
