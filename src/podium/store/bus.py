"""In-process publish/subscribe of committed events.

The store publishes an event only after its transaction commits, so a
subscriber never sees state that a crash could take back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from podium.domain import Event


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[tuple[asyncio.Queue[Event], str | None]] = []

    def publish(self, events: Iterable[Event]) -> None:
        for event in events:
            for queue, execution_id in self._subscribers:
                if execution_id is None or event.execution_id in (execution_id, None):
                    queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self, execution_id: str | None = None) -> AsyncIterator[asyncio.Queue[Event]]:
        """Yield a queue receiving every event published while the block runs."""
        entry: tuple[asyncio.Queue[Event], str | None] = (asyncio.Queue(), execution_id)
        self._subscribers.append(entry)
        try:
            yield entry[0]
        finally:
            self._subscribers.remove(entry)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
