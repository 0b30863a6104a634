"""The last messages of each run as this store queued them, for a subtask's first window.

A subtask starting reads the run's recent messages (its conversation window).
Read from the database, it would wait behind every write still queued, the end
of the subtask it depends on first. Here it needs no trip at all: a run's log
is seeded by one read queued behind every earlier write (so it sees them all),
and every message queued after that is appended as it is queued, in the order
the database will number it. A message written without being declared to the
log (see ProjectStore.write_behind) drops its run's log, so the next window is
read from the database again: the log can be stale only until that commit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from podium.domain import Message, Role

KEEP = 64  # messages kept per run; a window larger than this (after filtering) is read instead


class RecentMessages:
    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._runs: dict[str, deque[Message]] = {}
        self._seeding: dict[str, deque[Message]] = {}  # what was queued since a seed read was

    def queued(self, messages: Iterable[Message]) -> None:
        """Messages just queued for writing, in order: appended to their runs' logs."""
        for m in messages:
            for logs in (self._runs, self._seeding):
                log = logs.get(m.execution_id)
                if log is not None:
                    log.append(m)

    def forget(self, run_ids: Iterable[str]) -> None:
        for run_id in run_ids:
            self._runs.pop(run_id, None)
            self._seeding.pop(run_id, None)

    def window(self, run_id: str, limit: int, exclude_subtask: str | None) -> list[Message] | None:
        """The run's last `limit` messages (oldest first), minus system messages and one
        subtask's own; None when the log cannot say (not seeded, or cut short by `keep`)."""
        log = self._runs.get(run_id)
        if log is None:
            return None
        picked: list[Message] = []
        for m in reversed(log):
            if m.role is not Role.SYSTEM and (exclude_subtask is None or m.subtask_id != exclude_subtask):
                picked.append(m)
                if len(picked) == limit:
                    break
        if len(picked) < limit and len(log) == log.maxlen:
            return None  # older messages were dropped: the log may be missing some
        return picked[::-1]

    def seed(self, run_id: str) -> Callable[[list[Message]], None]:
        """Start a run's log now; the caller queues its read of the run's last `keep` messages at
        once (no await in between) and passes the rows (oldest first) to the function returned:
        they go in front of what was queued meanwhile. Until then the run has no log (window
        says None); of two seeds at once, the later one's read makes the log."""
        later: deque[Message] = deque(maxlen=self.keep)
        self._seeding[run_id] = later

        def seeded(rows: list[Message]) -> None:
            if self._seeding.get(run_id) is later:
                del self._seeding[run_id]
                log: deque[Message] = deque(rows[-self.keep:], maxlen=self.keep)
                log.extend(later)
                self._runs[run_id] = log

        return seeded
