"""Driving a run to its end (or to a stop): the run's state machine, with a front end's hooks.

From wherever the run is: plan it (discussion, then the leader's plan), have
the front end decide on a plan awaiting approval (approve, reject with
feedback, or stop), execute the approved plan, and return. A result awaiting
review, a finished run, a halt or a budget stop all end the drive.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel

from podium.domain import Execution, ExecutionStatus, PlanVersion

if TYPE_CHECKING:
    from podium.orchestrator.engine import Engine


class PlanDecision(BaseModel):
    """What the person (or --yes) decided on a plan awaiting approval."""

    action: Literal["approve", "reject", "stop"]
    feedback: str = ""
    by: str = "user"


class DriveOutcome(BaseModel):
    """Where the drive stopped: the run, why it stopped there, and whether a plan was left
    awaiting approval."""

    execution: Execution
    reason: str | None = None
    left_for_approval: bool = False
    executed: bool = False


class Driver(Protocol):
    """A front end's part in a drive."""

    def planning(self) -> None:
        """Planning starts (the specialists discuss, then the leader plans)."""

    async def decide_plan(self, latest: PlanVersion) -> PlanDecision:
        """The latest plan awaits approval: approve it, reject it with feedback, or stop."""

    async def execute(self, run_id: str, run: Callable[[], Awaitable[Execution]]) -> Execution:
        """Execute the approved plan by awaiting `run` (around it: signal handlers, a live view)."""


async def drive(engine: Engine, run_id: str, driver: Driver, *,
                before_execute: Callable[[], Awaitable[None]] | None = None) -> DriveOutcome:
    """Take the run from wherever it is to the end (or to a stop). `before_execute`: awaited once
    the plan is approved, before its subtasks run (the run's folder made ready).

    From the approval (or the decision to execute an approved plan) to the end, this process
    holds the run's lease: a halt sent meanwhile, from here or from a second terminal, reaches
    the session about to execute and stops it before its first subtask. A halt that lands before
    the lease is taken makes the run `halted` in the file; the drive then stops there (RunStopped)
    instead of approving or executing, unless it was started on that halted run (a resume): then
    a halt sent since the drive started, before the lease, is applied when the lease is taken."""
    from podium.app.queries import plan_version
    from podium.orchestrator.engine import RunStopped

    repo = engine.repo
    run_id = (await repo.get_execution(run_id)).id
    # What was sent to the run up to now; on a halted run (a resume) a halt written after this
    # and before the lease is taken is applied when it is (`Engine.driving`'s `since`).
    asked = await engine.control_repo.last_id(run_id)
    resuming = (await repo.get_execution(run_id)).status is ExecutionStatus.HALTED
    async with AsyncExitStack() as lease:
        leased = False

        async def take_lease() -> None:
            nonlocal leased
            if not leased:
                await lease.enter_async_context(engine.driving(run_id, since=asked if resuming else None))
                leased = True

        while True:
            execution = await repo.get_execution(run_id)
            if execution.status.finished or execution.status is ExecutionStatus.REVIEW:
                return DriveOutcome(execution=execution)
            if execution.status is not ExecutionStatus.HALTED:
                resuming = False  # from here a halt is a new one, not the one this drive resumes
            elif not resuming:
                reason = await repo.status_reason(run_id) or "halted"
                raise RunStopped(run_id, reason)
            if execution.status is ExecutionStatus.AWAITING_APPROVAL:
                latest = await repo.latest_plan(run_id)
                if latest is None:  # awaiting approval without a plan: plan again
                    await engine.resume(run_id)
                    continue
                decision = await driver.decide_plan(plan_version(latest))
                if decision.action == "stop":
                    return DriveOutcome(execution=await repo.get_execution(run_id), left_for_approval=True)
                if decision.action == "approve":
                    await take_lease()
                    # Decided while nobody held the run: a halt may have landed meanwhile.
                    if (await repo.get_execution(run_id)).status is ExecutionStatus.AWAITING_APPROVAL:
                        await engine.approve(run_id, by=decision.by)
                else:
                    await engine.reject(run_id, decision.feedback)
                continue
            if await repo.subtasks(run_id):
                if not leased:
                    await take_lease()
                    continue  # look at the run again now that this process holds it
                if before_execute is not None:
                    await before_execute()
                execution = await driver.execute(run_id, lambda: engine.execute(run_id))
                return DriveOutcome(execution=execution, reason=await repo.status_reason(run_id),
                                    executed=True)
            driver.planning()
            await engine.resume(run_id)
