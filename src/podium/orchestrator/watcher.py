"""The cross-process half of the control channel.

Another process (`podium guide/pause/resume/halt/answer` in a second
terminal) cannot reach this process's memory; it writes an `interventions`
row. While this process drives a run, a watcher polls the run's pending
rows (one indexed query, `interventions_pending`) every
`watch_interval_s` (0.05 s by default, never slower than 0.25 s), marks each
one applied with an `intervention.applied` event (and the status it
implies), and applies it through the same RunControl the TUI uses
in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from podium.domain import InterventionKind
from podium.orchestrator.control import RunControl
from podium.store.control import ControlRepository, PendingIntervention

log = logging.getLogger(__name__)


class InterventionWatcher:
    def __init__(self, repo: ControlRepository, run_id: str, control: RunControl, *, owner: str,
                 interval: float) -> None:
        self.repo = repo
        self.run_id = run_id
        self.control = control
        self.owner = owner
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        # Plan changes (the living plan) are applied by the engine, which consumes the row with
        # the outcome; without a handler they are refused.
        self.on_plan_change: Callable[[PendingIntervention], Awaitable[None]] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"watch:{self.run_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed poll is retried next tick; control must not crash the run
                log.warning("polling interventions of %s failed", self.run_id, exc_info=True)
            await asyncio.sleep(self.interval)

    async def poll(self) -> int:
        """Apply every pending row once; returns how many this process took."""
        taken = 0
        for item in await self.repo.pending(self.run_id):
            if self.control.applied(item.id):
                await self.repo.mark_consumed([item.id])
                continue
            if item.kind is InterventionKind.PLAN_CHANGE:
                if self.on_plan_change is not None:
                    await self.on_plan_change(item)
                else:
                    await self.repo.consume(self.run_id, item, by=self.owner, applied=False,
                                            reason="this process does not change plans")
                taken += 1
                continue
            if await self.repo.consume(self.run_id, item, by=self.owner):
                self.control.apply(item.kind, item.text, item.subtask_id, item.source,
                                   intervention_id=item.id)
                taken += 1
        return taken
