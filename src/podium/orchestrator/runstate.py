"""What the engine holds in memory for a run while it executes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from podium.domain import Agent, Budget, Execution, Subtask, Team, Usage
from podium.llm.types import BudgetExceeded, BudgetGuard
from podium.orchestrator.control import RunControl
from podium.orchestrator.pending_writes import PendingWrites
from podium.orchestrator.recall_ahead import RecallAhead
from podium.orchestrator.scheduler import Parking


class RunGuard(BudgetGuard):
    """BudgetGuard plus wall time: active seconds across sessions (not time spent stopped)."""

    def __init__(self, budget: Budget, usage: Usage, steps: int, elapsed_before: float = 0.0) -> None:
        super().__init__(budget, usage, steps)
        self.elapsed_before = elapsed_before
        self._started = time.monotonic()

    def elapsed(self) -> float:
        return self.elapsed_before + (time.monotonic() - self._started)

    def refusal(self, estimated_tokens: int = 0, estimated_usd: float = 0.0, *,
                in_flight: bool = True) -> BudgetExceeded | None:
        refused = super().refusal(estimated_tokens, estimated_usd, in_flight=in_flight)
        limit = self.budget.wall_seconds
        if refused is None and limit is not None and self.elapsed() >= limit:
            refused = BudgetExceeded("wall time (seconds)", round(self.elapsed(), 1), limit)
        return refused


@dataclass
class RunState:
    execution: Execution
    team: Team
    guard: RunGuard
    control: RunControl
    window_messages: int
    subtasks: dict[str, Subtask] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    parking: Parking | None = None
    # Help questions each subtask asked earlier with the human's answers (restarted agents see them).
    help_answers: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # Rework: per re-opened subtask, what the human said; and the feedback for a re-synthesis.
    rework_notes: dict[str, str] = field(default_factory=dict)
    synthesis_feedback: tuple[str, str] | None = None  # (feedback, previous result)
    # The living plan: what agents are told about changes (a retry's note, a skipped dependency,
    # a replaced input); the lock a change holds from its check to its write (the scheduler's
    # launch gate takes it too); the executor's LiveChanges while the graph runs.
    plan_notes: dict[str, list[str]] = field(default_factory=dict)
    # Seconds subtasks took in an earlier run this one continues (a fork's parent), by subtask id:
    # the scheduler's estimates for them (see durations.py).
    measured_durations: dict[str, float] = field(default_factory=dict)
    seconds_per_token: float | None = None  # the rate those ran at: None, the graph counts tokens
    # A run on the user's own folder (`--workspace`): what its agents are told about it.
    workspace_note: str | None = None
    plan_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # subtask starts and ends queued on the store, outputs on their way to memory
    writes: PendingWrites = field(default_factory=PendingWrites)
    recall: RecallAhead | None = None  # subtasks' long-term memories, looked up ahead (with memory on)
    live: Any = None

    def model_for(self, agent: Agent) -> str | None:
        """The run's model (a CLI flag or env) wins, then the agent's as recorded, then the team's."""
        return self.execution.model_for(agent, self.team)
