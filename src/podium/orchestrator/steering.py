"""Steering a run from another process: what `podium guide/pause/resume/halt/answer` do.

When a live process drives the run (it holds the lease), the command
writes a pending `interventions` row; that process's watcher applies it
through the same control channel the TUI uses in-process, and the command
waits (briefly) to report that it did. When nobody drives the run, the
command acts on the file directly where that makes sense (halt), records
what the next session will use (guidance, answers), or says why not.

Bad input (unknown run or subtask, a finished run, a read-only file) is a
PodiumError before anything is written: one line, exit 2, nothing changed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from podium.domain import Execution, ExecutionStatus, InterventionKind, SubtaskStatus
from podium.errors import NotFoundError, PodiumError, ReadOnlyError
from podium.store.control import ControlRepository
from podium.store.project import ProjectStore
from podium.store.runs import RunRepository

APPLY_WAIT_S = 3.0


@dataclass(frozen=True)
class Steered:
    """What happened: the line to print, and whether the file changed."""

    message: str
    changed: bool = True
    latency_s: float | None = None  # until the running process applied it


class Steering:
    def __init__(self, store: ProjectStore, *, source: str = "cli", wait_s: float = APPLY_WAIT_S) -> None:
        if store.readonly:
            raise ReadOnlyError(f"{store.path} is open read-only (an archive); nothing was changed")
        self.store = store
        self.repo = RunRepository(store)
        self.control = ControlRepository(store)
        self.source = source
        self.wait_s = wait_s

    # ------------------------------------------------------------ validation

    async def _run(self, run_ref: str) -> Execution:
        execution = await self.repo.get_execution(run_ref)
        if execution.status.finished:
            raise PodiumError(f"run {execution.id} is already {execution.status.value}; nothing to control")
        return execution

    async def _subtask(self, execution: Execution, subtask_id: str) -> SubtaskStatus:
        subtasks = {s.id: s for s in await self.repo.subtasks(execution.id)}
        if subtask_id not in subtasks:
            listing = ", ".join(subtasks) or "none yet: the plan is not approved"
            raise NotFoundError(f"run {execution.id} has no subtask {subtask_id!r} (its subtasks: {listing})")
        return subtasks[subtask_id].status

    def _not_in_review(self, execution: Execution) -> None:
        if execution.status is ExecutionStatus.REVIEW:
            raise PodiumError(f"run {execution.id} awaits your review: `podium review {execution.id} "
                              "--accept` or `--rework \"...\"`")

    async def _post(self, execution: Execution, kind: InterventionKind, text: str = "",
                    subtask_id: str | None = None) -> tuple[int, float | None]:
        iid = await self.repo.add_intervention(execution.id, kind, text=text, subtask_id=subtask_id,
                                               source=self.source)
        return iid, await self.control.wait_consumed(iid, self.wait_s)

    async def _deliver(self, execution: Execution, kind: InterventionKind, text: str, subtask_id: str | None,
                       *, offline: str) -> tuple[str, float | None] | Steered:
        """Post to the process running the run, or, when none is, record it for the next session
        (returning `offline` as the outcome). Posted: the owner and how long it took to apply."""
        owner = await self.repo.live_owner(execution.id)
        if owner is None:
            await self.repo.add_intervention(execution.id, kind, text=text, subtask_id=subtask_id,
                                             source=self.source)
            return Steered(offline)
        _, latency = await self._post(execution, kind, text, subtask_id)
        return owner, latency

    def _sent(self, what: str, execution: Execution, owner: str, latency: float | None) -> Steered:
        if latency is None:
            return Steered(f"{what} sent to run {execution.id}; its process ({owner}) has not taken it "
                           "up yet (it applies it at its next poll if it is still running)")
        return Steered(f"{what} run {execution.id} (applied by {owner} after {latency:.2f}s)",
                       latency_s=latency)

    # ------------------------------------------------------------ commands

    async def guide(self, run_ref: str, text: str, subtask_id: str | None = None) -> Steered:
        text = text.strip()
        if not text:
            raise PodiumError("the guidance is empty; say what the agents should do differently")
        execution = await self._run(run_ref)
        self._not_in_review(execution)
        if subtask_id is not None:
            await self._subtask(execution, subtask_id)
        delivered = await self._deliver(
            execution, InterventionKind.GUIDANCE, text, subtask_id,
            offline=f"guidance recorded for run {execution.id} ({execution.status.value}); no process is "
                    f"running it now, so agents get it when it continues (`podium resume {execution.id}`)")
        if isinstance(delivered, Steered):
            return delivered
        owner, latency = delivered
        step = self._sent("guidance for", execution, owner, latency)
        if latency is None:
            return step
        target = f"the agent on {subtask_id}" if subtask_id else "every running agent"
        return Steered(f"guidance delivered to run {execution.id} (applied by {owner} after {latency:.2f}s); "
                       f"{target} reads it at its next turn", latency_s=latency)

    async def pause(self, run_ref: str) -> Steered:
        execution = await self._run(run_ref)
        owner = await self.repo.live_owner(execution.id)
        if execution.status is ExecutionStatus.PAUSED and owner is not None:
            return Steered(f"run {execution.id} is already paused; `podium resume {execution.id}` "
                           f"continues it",
                           changed=False)
        if owner is None:
            raise PodiumError(self._nobody(execution, "pause"))
        if execution.status is ExecutionStatus.SYNTHESISING:
            return await self._pause_synthesis(execution, owner)
        if execution.status is not ExecutionStatus.RUNNING:
            raise PodiumError(f"run {execution.id} is {execution.status.value}: pause applies while it "
                              f"executes "
                              f"(`podium halt {execution.id}` stops it now)")
        return await self._pause_now(execution, owner)

    async def _pause_synthesis(self, execution: Execution, owner: str) -> Steered:
        """The leader's synthesis call is not cut short (that is what halt is for): the engine
        holds at the next step boundary, when the call returns, before the review starts (the
        status stays `synthesising` until then)."""
        if await self.control.pause_requested(execution.id):
            return Steered(f"a pause of run {execution.id} is already requested; "
                           f"{_when_synthesised(execution)}", changed=False)
        return await self._pause_now(execution, owner)

    async def _pause_now(self, execution: Execution, owner: str) -> Steered:
        _, latency = await self._post(execution, InterventionKind.PAUSE)
        now = (await self.repo.get_execution(execution.id)).status
        if now is not ExecutionStatus.SYNTHESISING:  # paused (or the run moved on meanwhile)
            return self._sent("paused", execution, owner, latency)
        if latency is None:
            return Steered(f"pause sent to run {execution.id}; its process ({owner}) has not taken it up yet "
                           f"(it applies it at its next poll if it is still running); "
                           f"{_when_synthesised(execution)}")
        return Steered(f"pause requested for run {execution.id} (taken up by {owner} after {latency:.2f}s); "
                       f"{_when_synthesised(execution)}", latency_s=latency)

    async def resume_live(self, run_ref: str) -> Steered | None:
        """Resume a paused run that another live process holds; None: nobody holds it (drive it here)."""
        execution = await self.repo.get_execution(run_ref)
        if execution.status.finished or execution.status is ExecutionStatus.REVIEW:
            return None  # the ordinary resume path explains
        owner = await self.repo.live_owner(execution.id)
        if owner is None:
            return None
        if execution.status is ExecutionStatus.SYNTHESISING and \
                await self.control.pause_requested(execution.id):
            # Paused during the synthesis call, not in effect yet: resuming cancels the pause.
            _, latency = await self._post(execution, InterventionKind.RESUME)
            return self._sent("resumed", execution, owner, latency)
        if execution.status is not ExecutionStatus.PAUSED:
            return Steered(f"run {execution.id} is already being run by {owner} ({execution.status.value}); "
                           "nothing to resume", changed=False)
        _, latency = await self._post(execution, InterventionKind.RESUME)
        return self._sent("resumed", execution, owner, latency)

    async def halt(self, run_ref: str, reason: str = "halted from the command line") -> Steered:
        execution = await self._run(run_ref)
        self._not_in_review(execution)
        # Whether a process drives the run is decided where the row is written (one transaction):
        # one that takes the run meanwhile (a plan just approved, about to run; a halted run being
        # resumed, still `halted` in the file) still gets it. Written on a halted run nobody holds
        # too: a resume asked for just before, not holding the run yet, applies it when it does.
        iid, owner = await self.repo.steer(execution.id, InterventionKind.HALT, text=reason,
                                           source=self.source, reason=reason)
        if owner is None and execution.status is ExecutionStatus.HALTED:
            return Steered(f"run {execution.id} is already halted; `podium resume {execution.id}` "
                           f"continues it",
                           changed=False)
        if owner is None:
            # Nobody is running it (a crashed process, or a plan left waiting): it is marked
            # halted so `podium runs` says so; the state is kept and resume continues it.
            return Steered(f"halted run {execution.id} (no process was running it); continue it with "
                           f"`podium resume {execution.id}`")
        latency = await self.control.wait_consumed(iid, self.wait_s)
        if latency is not None:
            await self._until_stopped(execution.id)
        step = self._sent("halted", execution, owner, latency)
        if latency is None:
            return step
        return Steered(step.message + f"; in-flight turns were cancelled, state is kept: "
                       f"`podium resume {execution.id}` continues it", latency_s=latency)

    async def answer(self, run_ref: str, subtask_id: str, text: str) -> Steered:
        text = text.strip()
        if not text:
            raise PodiumError("the answer is empty")
        execution = await self._run(run_ref)
        status = await self._subtask(execution, subtask_id)
        if status is not SubtaskStatus.NEEDS_HELP:
            raise PodiumError(f"subtask {subtask_id} of run {execution.id} has not asked for anything "
                              f"(it is {status.value.replace('_', ' ')})")
        delivered = await self._deliver(
            execution, InterventionKind.ANSWER, text, subtask_id,
            offline=f"answer recorded for {subtask_id}; no process is running run {execution.id}, so the "
                    f"agent gets it when the run continues (`podium resume {execution.id}`)")
        if isinstance(delivered, Steered):
            return delivered
        owner, latency = delivered
        return self._sent(f"answer for {subtask_id} delivered to", execution, owner, latency)

    # ------------------------------------------------------------ helpers

    def _nobody(self, execution: Execution, what: str) -> str:
        if execution.status is ExecutionStatus.HALTED:
            return (f"run {execution.id} is halted, not running: nothing to {what} "
                    f"(continue it with `podium resume {execution.id}`)")
        return (f"no process is running run {execution.id} ({execution.status.value}): nothing to {what} "
                f"(continue it with `podium resume {execution.id}`)")

    async def _until_stopped(self, run_id: str, timeout: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if (await self.repo.get_execution(run_id)).status is not ExecutionStatus.RUNNING and \
                    await self.repo.live_owner(run_id) is None:
                return
            await asyncio.sleep(0.05)


def _when_synthesised(execution: Execution) -> str:
    return (f"it takes effect when the synthesis call returns (`podium resume {execution.id}` "
            f"cancels it)")
