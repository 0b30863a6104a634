"""The per-run control channel: pause, resume, halt, guidance and help answers.

Agents call `checkpoint()` between model turns, so a pause takes effect at
the next turn boundary and guidance reaches an agent at its next turn, not
at the end of a batch. In-process callers (the TUI, tests) use the async
methods, which record the intervention in the project file through the
engine's recorder; the cross-process path (issue 6: a second terminal
writing `interventions` rows) calls `apply()` for the in-memory effect of
an intervention that is already recorded.
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


# (kind, text, subtask_id, source) -> records it durably; set by the engine.
Recorder = Callable[[InterventionKind, str, str | None, str], Awaitable[None]]


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
        self._on_halt: list[Callable[[], None]] = []

    # ------------------------------------------------------------ state

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def reset(self) -> None:
        """Clear a halt before a new execute()/resume(); guidance already given stays delivered."""
        self.halted = False
        self.halt_reason = ""
        self._running.set()

    def on_halt(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` when the run is halted (the scheduler cancels in-flight turns)."""
        self._on_halt.append(callback)
        return lambda: self._on_halt.remove(callback) if callback in self._on_halt else None

    # ------------------------------------------------------------ in-process API (records, then applies)

    async def pause(self, source: str = "tui") -> None:
        await self._record(InterventionKind.PAUSE, "", None, source)
        self.apply(InterventionKind.PAUSE)

    async def resume(self, source: str = "tui") -> None:
        await self._record(InterventionKind.RESUME, "", None, source)
        self.apply(InterventionKind.RESUME)

    async def halt(self, source: str = "tui", reason: str = "halted by the user") -> None:
        await self._record(InterventionKind.HALT, reason, None, source)
        self.apply(InterventionKind.HALT, reason)

    async def guide(self, text: str, *, subtask_id: str | None = None, source: str = "tui") -> None:
        await self._record(InterventionKind.GUIDANCE, text, subtask_id, source)
        self.apply(InterventionKind.GUIDANCE, text, subtask_id, source)

    async def answer(self, subtask_id: str, text: str, source: str = "tui") -> None:
        await self._record(InterventionKind.ANSWER, text, subtask_id, source)
        self.apply(InterventionKind.ANSWER, text, subtask_id, source)

    async def _record(self, kind: InterventionKind, text: str, subtask_id: str | None, source: str) -> None:
        if self._recorder is not None:
            await self._recorder(kind, text, subtask_id, source)

    # ------------------------------------------------------------ effects

    def apply(self, kind: InterventionKind, text: str = "", subtask_id: str | None = None,
              source: str = "cli") -> None:
        """The in-memory effect of an intervention (already recorded)."""
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
        elif kind is InterventionKind.ANSWER and subtask_id is not None:
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

    async def wait_answer(self, subtask_id: str) -> str:
        """The human's answer to a help request from `subtask_id` (issue 6's ask_human)."""
        queue = self._answers.setdefault(subtask_id, asyncio.Queue())
        return await queue.get()
