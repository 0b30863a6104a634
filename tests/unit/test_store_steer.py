"""Control rows and the lease: who a halt is for is decided where the row is written.

A halt written while nobody holds the run makes it `halted` in the file; one written while a
process holds it is left pending for that process (its watcher), and a session's start-up sweep
only closes rows written before it claimed the run.
"""

from __future__ import annotations

from podium.domain import Agent, Execution, ExecutionStatus, InterventionKind, Plan, Subtask, Team
from podium.store import ProjectStore
from podium.store.control import ControlRepository
from podium.store.runs import RunRepository, lease_owner

TEAM = Team(name="t", leader="lead",
            agents=[Agent(name="lead", role="leader"), Agent(name="coder", role="coder")])
PLAN = Plan(subtasks=[Subtask(id="t1", agent="coder", description="write it")])


async def approved(store: ProjectStore) -> tuple[RunRepository, str]:
    repo = RunRepository(store)
    execution = Execution(objective="x", team=TEAM.name)
    await repo.create_execution(execution, TEAM)
    await repo.approve_plan(execution.id, 1, PLAN, "test")
    return repo, execution.id


async def consumed(store: ProjectStore, iid: int) -> bool:
    row = await store.query_one("SELECT consumed_at FROM interventions WHERE id = ?", (iid,))
    return row[0] is not None


async def test_a_halt_nobody_drives_halts_the_run_in_the_file(store: ProjectStore) -> None:
    repo, run_id = await approved(store)
    iid, driver = await repo.steer(run_id, InterventionKind.HALT, text="stop", source="cli", me=None)
    assert driver is None and await consumed(store, iid)
    assert (await repo.get_execution(run_id)).status is ExecutionStatus.HALTED
    assert await repo.status_reason(run_id) == "stop"


async def test_a_halt_for_a_live_driver_is_left_for_it_and_survives_its_sweep(store: ProjectStore) -> None:
    repo, run_id = await approved(store)
    control = ControlRepository(store)
    before, _ = await repo.steer(run_id, InterventionKind.HALT, text="old", me=None)
    await repo.set_status(run_id, ExecutionStatus.RUNNING)
    stale = await repo.add_intervention(run_id, InterventionKind.PAUSE)  # for a process now gone
    mark = await repo.claim(run_id, lease_owner())  # this process drives the run from here
    assert mark == stale > before
    iid, driver = await repo.steer(run_id, InterventionKind.HALT, text="now", me="another-host:1")
    assert driver == lease_owner() and not await consumed(store, iid)
    assert (await repo.get_execution(run_id)).status is ExecutionStatus.RUNNING  # the driver halts it
    assert await control.sweep_stale(run_id, by=lease_owner(), upto=mark) == 1
    assert await consumed(store, stale) and not await consumed(store, iid)
    assert [p.id for p in await control.pending(run_id)] == [iid]
