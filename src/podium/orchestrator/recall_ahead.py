"""Each subtask's long-term memories, looked up before it starts.

A subtask's recall leaves out its own run's memories (see MemoryService.recall_for),
so it is the same whenever it is looked up during the run. Looked up when the
subtasks it depends on start, it is ready by the time it may start, instead of
on the graph's critical path between one subtask's end and the next's model
call. A subtask ready from the outset looks its own up as it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from podium.domain import Subtask


class RecallAhead:
    def __init__(self, memory: Any, *, objective: str, run_id: str, k: int) -> None:
        self.memory = memory
        self.objective = objective
        self.run_id = run_id
        self.k = k
        # subtask id -> (what was asked: agent and query, the lookup)
        self._lookups: dict[str, tuple[tuple[str, str], asyncio.Task[list[Any]]]] = {}

    def query(self, subtask: Subtask) -> str:
        return f"{subtask.description}\n{self.objective}"

    def prefetch(self, subtasks: list[Subtask]) -> None:
        """Start looking these up in the background (once each)."""
        for subtask in subtasks:
            self._lookup(subtask)

    async def get(self, subtask: Subtask) -> list[Any]:
        """The subtask's memories: the lookup started ahead, or one started now. Its failure is
        raised here, to the subtask that needs it; the lookup is then forgotten (a retry asks anew).
        A subtask edited since it was looked up is looked up again."""
        task = self._lookup(subtask)
        try:
            return list(await asyncio.shield(task))
        except asyncio.CancelledError:
            raise
        except Exception:
            self._lookups.pop(subtask.id, None)
            raise

    def _lookup(self, subtask: Subtask) -> asyncio.Task[list[Any]]:
        asked = (subtask.agent, self.query(subtask))
        known = self._lookups.get(subtask.id)
        if known is not None and known[0] == asked:
            return known[1]
        task = asyncio.ensure_future(self.memory.recall_for(
            agent=subtask.agent, text=asked[1], execution_id=self.run_id, k=self.k))
        task.add_done_callback(_retrieved)
        self._lookups[subtask.id] = (asked, task)
        return task

    async def close(self) -> None:
        """Stop the lookups nobody used (their subtasks were skipped, or the run stopped)."""
        pending = [t for _, t in self._lookups.values() if not t.done()]
        for task in pending:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*pending, return_exceptions=True)
        self._lookups.clear()


def _retrieved(task: asyncio.Task[Any]) -> None:
    """A failed lookup nobody awaits must not be reported as an exception never retrieved."""
    if not task.cancelled():
        task.exception()
