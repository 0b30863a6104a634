"""plan_effect: a change checked against the live graph (pure), and what agents are told."""

from __future__ import annotations

import pytest

from podium import events as ev
from podium.domain import Agent, PlanAction, PlanChange, Subtask, SubtaskStatus, Team
from podium.errors import PodiumError
from podium.orchestrator.plan_changes import agent_notes, plan_effect

TEAM = Team(name="t", leader="lead", agents=[Agent(name="lead", role="l"), Agent(name="a", role="x"),
                                               Agent(name="b", role="y")])


def graph(**status: SubtaskStatus) -> list[Subtask]:
    deps = {"t1": [], "t2": ["t1"], "t3": ["t2"], "t4": ["t3"]}
    return [Subtask(id=k, agent="a", description=k, depends_on=v, status=status.get(k, SubtaskStatus.PENDING))
            for k, v in deps.items()]


def change(action: str, **kw: object) -> PlanChange:
    return PlanChange(action=PlanAction(action), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("c", "status", "said"), [
    (change("add", description="x", agent="nobody"), {}, "no agent 'nobody'"),
    (change("add", description=" ", agent="a"), {}, "the description is empty"),
    (change("add", description="x", agent="a", after=["t9"]), {}, "no subtask 't9'"),
    (change("add", description="x", agent="a", after=["t2"]), {"t2": SubtaskStatus.CANCELLED}, "cancelled"),
    (change("edit", subtask_id="t1", after=["t4"]), {}, "cycle"),
    (change("edit", subtask_id="t2", description="y"), {"t2": SubtaskStatus.RUNNING}, "cancel"),
    (change("edit", subtask_id="t2", description="y"), {"t2": SubtaskStatus.DONE}, "t2 is done"),
    (change("edit", subtask_id="t2"), {}, "nothing to change"),
    (change("retry", subtask_id="t2"), {"t2": SubtaskStatus.DONE}, "only a failed or blocked"),
    (change("skip", subtask_id="t2"), {"t2": SubtaskStatus.RUNNING}, "`podium task cancel`"),
    (change("output", subtask_id="t2", output="z"), {}, "only a finished subtask"),
])
def test_bad_changes_are_refused_with_one_line(c, status, said):
    with pytest.raises(PodiumError, match=said):
        plan_effect(c, graph(**status), TEAM)


def test_a_crashed_run_nobody_drives_counts_in_flight_as_pending():
    running = graph(t2=SubtaskStatus.RUNNING)
    effect = plan_effect(change("edit", subtask_id="t2", agent="b"), running, TEAM, driven=False)
    assert effect.definition is not None and effect.definition.agent == "b"


def test_cancel_with_block_blocks_only_dependents_that_have_not_started():
    effect = plan_effect(change("cancel", subtask_id="t2"), graph(t2=SubtaskStatus.RUNNING), TEAM)
    assert not effect.proceed and effect.blocked == ["t3"]
    assert [(m.subtask_id, m.status) for m in effect.moves] == [("t2", SubtaskStatus.CANCELLED),
                                                               ("t3", SubtaskStatus.BLOCKED)]


def test_replacing_an_output_reruns_done_and_running_dependents_downstream():
    g = graph(t1=SubtaskStatus.DONE, t2=SubtaskStatus.DONE, t3=SubtaskStatus.RUNNING)
    effect = plan_effect(change("output", subtask_id="t1", output="new"), g, TEAM)
    assert effect.reset == ["t2", "t3"] and effect.output == "new"
    assert effect.moves[0].expected is SubtaskStatus.DONE  # the store re-checks each one


def test_add_picks_the_next_id_and_agents_hear_of_retries_and_skips():
    effect = plan_effect(change("add", description="more", agent="b", after=["t1"]), graph(), TEAM)
    assert effect.subtask_id == "t5" and effect.insert and effect.reset == ["t5"]
    notes = agent_notes([
        ev.PlanChanged(action="retry", subtask_id="t2", by="user", version=2, note="try harder"),
        ev.PlanChanged(action="skip", subtask_id="t3", by="user", version=3, dependents="proceed"),
    ], graph())
    assert notes["t2"] == ["user retried this subtask after it failed: try harder"]
    assert "t3 was skipped by user" in notes["t4"][0]
