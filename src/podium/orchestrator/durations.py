"""How long each subtask will take, as best the run knows: the scheduler's critical-path costs.

A subtask that has run before (in this run, or in the run it was forked
from) has a measured duration. The rest have the plan's token estimate,
turned into seconds at the rate the measured ones ran (median seconds per
estimated token), so both kinds are in one unit. With nothing measured, the
token estimates alone rank the paths.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping

from podium.domain import Subtask


def measured_durations(subtasks: Iterable[Subtask]) -> dict[str, float]:
    """Seconds each finished attempt took (started and finished, in that order)."""
    return {s.id: s.finished_at - s.started_at for s in subtasks
            if s.started_at is not None and s.finished_at is not None and s.finished_at > s.started_at}


def seconds_per_token(subtasks: Iterable[Subtask], measured: Mapping[str, float]) -> float | None:
    """The median rate measured subtasks ran at against their estimates; None with none measured."""
    rates = [measured[s.id] / s.estimated_tokens for s in subtasks
             if s.id in measured and s.estimated_tokens > 0]
    return statistics.median(rates) if rates else None


def token_cost(tokens: int, per_token: float | None) -> float:
    """A token estimate in the graph's unit: seconds at the measured rate, else tokens."""
    return float(max(1, tokens)) * (per_token if per_token is not None else 1.0)


def duration_costs(subtasks: Iterable[Subtask], measured: Mapping[str, float]) -> dict[str, float]:
    every = list(subtasks)
    per_token = seconds_per_token(every, measured)
    if per_token is None:
        return {s.id: token_cost(s.estimated_tokens, None) for s in every}
    return {s.id: measured.get(s.id, token_cost(s.estimated_tokens, per_token)) for s in every}
