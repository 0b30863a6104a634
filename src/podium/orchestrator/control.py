"""The per-run control channel: pause, resume, halt, guidance and help answers.

Agents call `checkpoint()` between model turns, so a pause takes effect at
the next turn boundary and guidance reaches an agent at its next turn, not
at the end of a batch. In-process callers (the TUI, tests) use the async
methods, which record the intervention in the project file through the
engine's recorder; the cross-process path (a second terminal writing
`interventions` rows, picked up by the engine's watcher) calls `apply()`
for the in-memory effect of an intervention that is already recorded.
When another live process drives the run, the recorder leaves the row
pending for that process and nothing is applied here; when none does, a
halt acts on the file (the run is `halted`). The in-memory state is a
session's: the engine clears it when a session lets the run go, never when
one starts, so a halt sent while a session gets going stops it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from podium.domain import InterventionKind


class Halted(Exception):
    """Raised at a checkpoint once the run has been halted."""


@dataclass(frozen=True)
class Guidance:
    seq: int
    text: str
    source: str
    subtask_id: str | None  # None: for every running agent


# (kind, text, subtask_id, source) -> records it durably; set by the engine. It returns the
# intervention id (or None) when the effect belongs to this process, False when it does not: the
# row was left for the process that drives the run, or nobody drives it and the file holds the
# effect (a halt made the run `halted`).
Recorder = Callable[[InterventionKind, str, str | None, str], Awaitable[int | bool | None]]


class RunControl:
    def __init__(self, run_id: str, recorder: Recorder | None = None) -> None:
        self.run_id = run_id
        self._recorder = recorder
        self._running = asyncio.Event()
        self._running.set()
        self.halted = False
        self.halt_reason = ""
        self._guidance: list[Guidance] = []
        self._answers: dict[str, asyncio.Queue[str]] = {}
        self._asking: set[str] = set()  # subtasks waiting for a help answer
        self._applied: set[int] = set()  # intervention ids already applied here
        self._on_halt: list[Callable[[], None]] = []

    # ------------------------------------------------------------ state

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def reset(self) -> None:
        """Clear a halt or pause once the session it was for has let the run go (the engine does
        it then, never when a session starts: a halt sent while a session gets going must stop
        it); guidance already given stays delivered."""
        self.halted = False
        self.halt_reason = ""
        self._running.set()

    def on_halt(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` when the run is halted (the scheduler cancels in-flight turns)."""
        self._on_halt.append(callback)
        return lambda: self._on_halt.remove(callback) if callback in self._on_halt else None

    # ------------------------------------------------------------ in-process API (records, then applies)

    async def pause(self, source: str = "tui") -> None:
        await self._send(InterventionKind.PAUSE, "", None, source)

    async def resume(self, source: str = "tui") -> None:
        await self._send(InterventionKind.RESUME, "", None, source)

    async def halt(self, source: str = "tui", reason: str = "halted by the user") -> None:
        await self._send(InterventionKind.HALT, reason, None, source)

    async def guide(self, text: str, *, subtask_id: str | None = None, source: str = "tui") -> None:
        await self._send(InterventionKind.GUIDANCE, text, subtask_id, source)

    async def answer(self, subtask_id: str, text: str, source: str = "tui") -> None:
        await self._send(InterventionKind.ANSWER, text, subtask_id, source)

    async def _send(self, kind: InterventionKind, text: str, subtask_id: str | None, source: str) -> None:
        recorded: int | bool | None = None
        if self._recorder is not None:
            recorded = await self._recorder(kind, text, subtask_id, source)
        if recorded is False:
            return  # another process drives the run; its watcher applies the row
        self.apply(kind, text, subtask_id, source,
                   intervention_id=recorded if isinstance(recorded, int) and recorded is not True else None)

    # ------------------------------------------------------------ effects

    def apply(self, kind: InterventionKind, text: str = "", subtask_id: str | None = None,
              source: str = "cli", *, intervention_id: int | None = None) -> None:
        """The in-memory effect of an intervention (already recorded); once per intervention id."""
        if intervention_id is not None:
            if intervention_id in self._applied:
                return
            self._applied.add(intervention_id)
        if kind is InterventionKind.PAUSE:
            self._running.clear()
        elif kind is InterventionKind.RESUME:
            self._running.set()
        elif kind is InterventionKind.HALT:
            self.halted = True
            self.halt_reason = text or "halted by the user"
            self._running.set()  # wake paused agents so they see the halt
            for callback in list(self._on_halt):
                callback()
        elif kind is InterventionKind.GUIDANCE:
            self._guidance.append(Guidance(len(self._guidance) + 1, text, source, subtask_id))
        elif kind is InterventionKind.ANSWER and subtask_id in self._asking:
            # Only an agent that asked gets it; otherwise the answer was for a tool approval
            # (read from the table by the approvals code) and must not linger for a later question.
            self._answers.setdefault(subtask_id, asyncio.Queue()).put_nowait(text)

    # ------------------------------------------------------------ agent side

    def guidance_since(self, cursor: int, subtask_id: str | None) -> tuple[list[Guidance], int]:
        """Guidance after `cursor` meant for this subtask (or everyone), and the new cursor."""
        fresh = [g for g in self._guidance[cursor:] if g.subtask_id in (None, subtask_id)]
        return fresh, len(self._guidance)

    @property
    def guidance_cursor(self) -> int:
        return len(self._guidance)

    async def wait_running(self) -> None:
        """Block while paused; raise Halted once halted."""
        if self.halted:
            raise Halted(self.halt_reason)
        await self._running.wait()
        if self.halted:
            raise Halted(self.halt_reason)

    async def checkpoint(self, cursor: int, subtask_id: str | None) -> tuple[list[Guidance], int]:
        """The turn boundary: wait out a pause, stop on halt, collect new guidance."""
        await self.wait_running()
        return self.guidance_since(cursor, subtask_id)

    def applied(self, intervention_id: int) -> bool:
        return intervention_id in self._applied

    def expect_answer(self, subtask_id: str) -> None:
        """Open a help request: answers for `subtask_id` are delivered from now on."""
        self._asking.add(subtask_id)
        self._answers.setdefault(subtask_id, asyncio.Queue())

    @property
    def asking(self) -> set[str]:
        return set(self._asking)

    async def wait_answer(self, subtask_id: str) -> str:
        """The human's answer to a help request from `subtask_id` (the ask_human action)."""
        self.expect_answer(subtask_id)
        queue = self._answers[subtask_id]
        try:
            return await queue.get()
        finally:
            self._asking.discard(subtask_id)
