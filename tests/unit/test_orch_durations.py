"""The scheduler's cost per subtask: measured durations first, else token estimates at the measured rate."""

from __future__ import annotations

import pytest

from podium.domain import Subtask
from podium.orchestrator.durations import duration_costs, measured_durations
from podium.orchestrator.graph_order import bottom_levels


def _s(sid: str, tokens: int, started: float | None = None, finished: float | None = None,
       after: list[str] | None = None) -> Subtask:
    return Subtask(id=sid, agent="a", description=sid, estimated_tokens=tokens, started_at=started,
                   finished_at=finished, depends_on=after or [])


def test_without_measurements_the_token_estimates_rank_the_paths() -> None:
    subtasks = [_s("a", 500), _s("b", 4000)]
    assert duration_costs(subtasks, {}) == {"a": 500.0, "b": 4000.0}


def test_measured_subtasks_keep_their_duration_and_the_rest_are_converted_at_their_rate() -> None:
    # t1 ran 2 s for 1000 estimated tokens: 2 ms a token; t2's 3000 tokens are 6 s.
    subtasks = [_s("t1", 1000, 10.0, 12.0), _s("t2", 3000), _s("t3", 1000)]
    costs = duration_costs(subtasks, measured_durations(subtasks))
    assert costs == pytest.approx({"t1": 2.0, "t2": 6.0, "t3": 2.0})


def test_a_measured_duration_can_reverse_what_the_estimates_said() -> None:
    # The plan thought "long" short; its earlier attempt (a fork's parent) took 30 s.
    subtasks = [_s("short", 5000), _s("long", 100), *(_s(f"done{i}", 1000, 0.0, 1.0) for i in range(3))]
    levels = bottom_levels({s.id: [] for s in subtasks},
                           duration_costs(subtasks, {"long": 30.0} | measured_durations(subtasks)))
    assert levels["long"] > levels["short"]
    by_estimate = bottom_levels({s.id: [] for s in subtasks}, duration_costs(subtasks, {}))
    assert by_estimate["long"] < by_estimate["short"]


def test_unfinished_or_clock_skewed_attempts_are_not_measurements() -> None:
    assert measured_durations([_s("a", 1, 5.0, None), _s("b", 1, None, 3.0), _s("c", 1, 4.0, 4.0)]) == {}


async def test_a_fork_knows_how_long_its_subtasks_took_in_its_ancestors(store):
    import time

    from podium.domain import Agent, Execution, Plan, Team
    from podium.store.fork import ForkRepository
    from podium.store.runs import RunRepository

    team = Team(name="t", leader="lead",
                agents=[Agent(name="lead", role="leader"), Agent(name="a", role="a")])
    repo = RunRepository(store)
    runs = []
    for _ in range(3):  # grandparent -> parent -> fork
        execution = Execution(objective="x", team=team.name)
        await repo.create_execution(execution, team)
        await repo.approve_plan(execution.id, 1, Plan(subtasks=[_s("t1", 100), _s("t2", 100)]), "test")
        runs.append(execution.id)
    grand, parent, fork = runs

    def timed(tx, run_id: str, sid: str, seconds: float) -> None:
        tx.execute("UPDATE subtasks SET started_at = 100, finished_at = ? WHERE execution_id = ? AND id = ?",
                   (100 + seconds, run_id, sid))

    def link(tx) -> None:
        timed(tx, grand, "t1", 9.0)
        timed(tx, grand, "t2", 4.0)
        timed(tx, parent, "t2", 2.5)  # the nearer measurement wins
        for child, par in ((parent, grand), (fork, parent)):
            tx.execute("INSERT INTO run_forks (execution_id, parent_id, created_at) VALUES (?, ?, ?)",
                       (child, par, time.time()))

    await store.write(link)
    assert await ForkRepository(store).parent_durations(fork) == pytest.approx({"t1": 9.0, "t2": 2.5})
    assert await ForkRepository(store).parent_durations(grand) == {}
    assert all(s.started_at is None for s in await repo.subtasks(fork))
