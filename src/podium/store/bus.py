"""In-process publish/subscribe of committed events.

The store publishes an event only after its transaction commits, so a
subscriber never sees state that a crash could take back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from podium.domain import Event, EventPayload, UnparsedPayload
from podium.events import InvalidEventError, validate_payload


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[tuple[asyncio.Queue[Event], str | None]] = []

    def publish(self, events: Iterable[Event]) -> None:
        """Hand events to the subscribers. The store's events come typed (checked when
        written); one built with a plain dict payload (the transient stream deltas) is
        checked here, strictly: a bad payload raises InvalidEventError, nobody sees it."""
        for event in events:
            payload = event.payload
            if not isinstance(payload, EventPayload):
                event = event.model_copy(update={"payload": validate_payload(event.type, payload)})
            elif isinstance(payload, UnparsedPayload):
                raise InvalidEventError(f"{event.type} event not published: {payload.problem}")
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
