"""The halts a resume takes up when it takes the run: those written after it was asked for
(`ControlRepository.last_id` then) and up to its claim, taken up or not, and no other kind."""

from __future__ import annotations

from podium.domain import Agent, Execution, InterventionKind, Plan, Subtask, Team
from podium.store import ProjectStore
from podium.store.control import ControlRepository
from podium.store.runs import RunRepository, lease_owner

TEAM = Team(name="t", leader="lead",
            agents=[Agent(name="lead", role="leader"), Agent(name="coder", role="coder")])
PLAN = Plan(subtasks=[Subtask(id="t1", agent="coder", description="write it")])


async def test_halts_between_the_resume_being_asked_for_and_its_claim(store: ProjectStore) -> None:
    repo, control = RunRepository(store), ControlRepository(store)
    execution = Execution(objective="x", team=TEAM.name)
    await repo.create_execution(execution, TEAM)
    await repo.approve_plan(execution.id, 1, PLAN, "test")
    run_id = execution.id
    assert await control.last_id(run_id) == 0
    old, _ = await repo.steer(run_id, InterventionKind.HALT, text="before", me=None)  # halts the run
    asked = await control.last_id(run_id)
    assert asked == old
    again, driver = await repo.steer(run_id, InterventionKind.HALT, text="after", me=None)
    assert driver is None  # nobody holds it: recorded, taken up, the run halted already
    await repo.add_intervention(run_id, InterventionKind.GUIDANCE, text="a guidance")
    claimed = await repo.claim(run_id, lease_owner())
    later = await repo.add_intervention(run_id, InterventionKind.HALT, text="for the watcher")
    halts = await control.halts_between(run_id, asked, claimed)
    assert [(h.id, h.text) for h in halts] == [(again, "after")]
    assert later > claimed
