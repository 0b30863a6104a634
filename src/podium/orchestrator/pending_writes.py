"""Writes a run queued without waiting for them, and background work it must not lose track of.

A subtask's start and end are queued on the store (see ProjectStore.write_behind)
so the next subtask need not wait for their commit; a finished subtask's output
goes to long-term memory in the background. A failed write stops the run at
the next check; before the run goes on to its next phase, every one is settled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger(__name__)


class PendingWrites:
    def __init__(self) -> None:
        self._pending: set[asyncio.Future[Any]] = set()
        self._error: BaseException | None = None

    def add(self, future: Awaitable[Any]) -> None:
        """Track a queued write (a future) or background work (a coroutine, run as a task)."""
        tracked = asyncio.ensure_future(future)
        self._pending.add(tracked)
        tracked.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[Any]) -> None:
        self._pending.discard(future)
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None and self._error is None:
            self._error = exc

    def check(self) -> None:
        """Raise the first failure among the writes that have settled."""
        if self._error is not None:
            raise self._error

    async def settle(self, *, quiet: bool = False) -> None:
        """Wait for everything tracked; raise the first failure unless `quiet` (then it is logged:
        the run is already ending on another error)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
        if self._error is not None:
            if quiet:
                log.error("a queued write failed while the run stopped", exc_info=self._error)
                return
            self.check()
