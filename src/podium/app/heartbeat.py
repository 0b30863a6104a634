"""The team's heartbeat inside a terminal app: `podium work --watch` as a task of that app.

It works the board with a project session of its own, set up as `podium work`
sets up a headless one: plans approved by the leader, results reviewed by the
leader (a person is not asked; a card that needs one lands in Review or Needs
help), a failure ends its run. The app's own session waits for the person
(review="human", when_stuck="wait"), which would leave every card in Review and
could hold a card forever. The model and endpoint are the app's.

It writes to the same file as the app, so the board on screen and the run
screens follow its cards and runs as they follow another process's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from podium.app.work import Worker, WorkOptions, WorkSummary
from podium.errors import PodiumError

Listener = Callable[[], None]


class HeartbeatState(StrEnum):
    OFF = "off"
    STARTING = "starting"
    ON = "on"
    STOPPING = "stopping"


class Heartbeat:
    """Start with `await heartbeat.run()` (as a task); `stop()` halts its runs (resumable) and ends it."""

    def __init__(self, project: Path, *, model: str | None, api_base: str | None,
                 options: WorkOptions | None = None, on_change: Listener | None = None) -> None:
        self.project = Path(project)
        self.model = model
        self.api_base = api_base
        self.options = options or WorkOptions(watch=True)
        self.on_change: Listener = on_change or (lambda: None)
        self.state = HeartbeatState.OFF
        self.worker_name: str | None = None
        self.lines: deque[str] = deque(maxlen=50)  # what the worker reported, newest last
        self.summary: WorkSummary | None = None
        self.error: str | None = None
        self._worker: Worker | None = None

    @property
    def running(self) -> bool:
        return self.state in (HeartbeatState.STARTING, HeartbeatState.ON, HeartbeatState.STOPPING)

    def _report(self, line: str) -> None:
        self.lines.append(line)
        self.on_change()

    async def run(self) -> WorkSummary | None:
        """Work the board until `stop()`; errors are kept in `error` (and reported), not raised."""
        from podium.app.run_settings import start_settings
        from podium.app.session import ProjectSession

        self.state, self.error, self.summary = HeartbeatState.STARTING, None, None
        self.on_change()
        try:
            settings, endpoint = start_settings(self.project, model=self.model, api_base=self.api_base,
                                                concurrency=4, max_tokens=None, review=False,
                                                yes=self.options.approve != "human", allow_tools=None)
            async with ProjectSession(self.project, run_settings=settings, endpoint=endpoint,
                                      create=False) as session:
                worker = Worker(session, self.options, report=self._report)
                self._worker, self.worker_name = worker, worker.name
                if self.state is HeartbeatState.STOPPING:  # stopped while it was starting
                    return None
                self.state = HeartbeatState.ON
                self._report(f"heartbeat on as {worker.name}: taking cards from To do")
                self.summary = await worker.run()
                return self.summary
        except PodiumError as exc:
            self.error = str(exc)
            self._report(f"heartbeat stopped: {exc}")
            return None
        finally:
            self._worker = None
            self.state = HeartbeatState.OFF
            self.on_change()

    def stop(self, reason: str = "stopped from the board") -> None:
        """Take no more cards; the runs in flight are halted and their cards left to resume."""
        if not self.running:
            return
        self.state = HeartbeatState.STOPPING
        if self._worker is not None:
            self._worker.stop(reason)
        self.on_change()

    def worked(self) -> WorkSummary | None:
        """What it has worked so far (this start, or the last one once it stopped)."""
        return self._worker.summary if self._worker is not None else self.summary

    def status_line(self) -> str:
        """One line for the screen: on/off, what it did, its last word."""
        summary = self.worked()
        worked = summary.worked if summary is not None else []
        if self.state is HeartbeatState.OFF:
            head = "heartbeat off"
            if self.error:
                return f"{head} · {self.error}"
            if worked:
                done = sum(1 for w in worked if w.column == "done")
                head += f" · last time {len(worked)} worked, {done} done"
            return f"{head} · last: {self.lines[-1]}" if self.lines else head
        head = {HeartbeatState.STARTING: "heartbeat starting…", HeartbeatState.ON: "heartbeat on",
                HeartbeatState.STOPPING: "heartbeat stopping…"}[self.state]
        if worked:
            head += f" · {len(worked)} worked, {sum(1 for w in worked if w.column == 'done')} done"
        return f"{head} · {self.lines[-1]}" if self.lines else head
