"""The event loop thread's CPU time, charged to what it was doing: the model call, the store, the rest.

`charge(name)` marks a section (nested sections charge the innermost). Time
is the loop thread's CPU (`time.thread_time`), so the store's own thread and
waiting are not counted: only what holds the event loop up. Meant for a run
with one subtask at a time, where a section's awaits resume nothing else of
note.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any


class LoopClock:
    def __init__(self) -> None:
        self.spent: dict[str, float] = {"model": 0.0, "store": 0.0}
        self._stack: list[str] = []
        self._mark = 0.0
        self._started = 0.0
        self._wall_started = 0.0
        self.total = 0.0
        self.wall = 0.0  # seconds between start() and stop(), for the same span as `total`

    def _switch(self) -> None:
        now = time.thread_time()
        if self._stack:
            self.spent[self._stack[-1]] += now - self._mark
        self._mark = now

    @contextlib.contextmanager
    def charge(self, name: str) -> Iterator[None]:
        self._switch()
        self._stack.append(name)
        try:
            yield
        finally:
            self._switch()
            self._stack.pop()

    def start(self) -> None:
        self._started = self._mark = time.thread_time()
        self._wall_started = time.perf_counter()

    def stop(self) -> None:
        self.total = time.thread_time() - self._started
        self.wall = time.perf_counter() - self._wall_started

    def instrument_store(self, store: Any) -> None:
        """Charge the store's reads and transactions (their loop side) to "store"."""
        run, write, write_behind = store.run, store.write, store.write_behind

        async def timed_run(fn: Any) -> Any:
            with self.charge("store"):
                return await run(fn)

        async def timed_write(fn: Any, **kwargs: Any) -> Any:
            with self.charge("store"):
                return await write(fn, **kwargs)

        def timed_write_behind(fn: Any, **kwargs: Any) -> Any:
            with self.charge("store"):
                return write_behind(fn, **kwargs)

        store.run, store.write, store.write_behind = timed_run, timed_write, timed_write_behind

    def per_item(self, n: int) -> dict[str, float]:
        """Milliseconds per item: the loop's total and each charged part."""
        return ({"loop": self.total / n * 1000, "wall": self.wall / n * 1000}
                | {k: v / n * 1000 for k, v in self.spent.items()})
