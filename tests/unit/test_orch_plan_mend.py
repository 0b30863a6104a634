"""Plan mending: each mend on a malformed plan, through the plan schema the leader fills.

Several inputs are replies SmolLM2-135M actually gave under constrained decoding (shortened).
"""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from podium.orchestrator.plan_agents import Roster, match_agent
from podium.orchestrator.plan_mend import mend_plan
from podium.orchestrator.planning import draft_to_plan, plan_schema, validate_plan
from podium.orchestrator.teams import PRESETS

RESEARCH = PRESETS["research"]
SOFTWARE = PRESETS["software"]


def mended(data: object, team=RESEARCH, max_subtasks: int = 12):
    """The plan the engine would get from this reply, and its mends; it must validate."""
    plan = draft_to_plan(plan_schema(team, max_subtasks).model_validate(data))
    assert validate_plan(plan, team) == []
    return plan, plan.mends


def step(sid, agent="researcher", description=None, **extra):
    return {"id": sid, "agent": agent, "description": description or f"do {sid}", **extra}


def test_a_valid_plan_is_left_alone():
    data = {"rationale": "r", "subtasks": [step("t1"), step("t2", "writer", depends_on=["t1"])]}
    plan, mends = mended(data)
    assert mends == [] and [(s.id, s.depends_on) for s in plan.subtasks] == [("t1", []), ("t2", ["t1"])]
    assert mend_plan(data, Roster.of(RESEARCH), 12)[1] == []


def test_duplicate_ids_are_renamed_and_dependencies_keep_the_first():
    # SmolLM2 on "write an ISO 8601 duration parser": the same two ids over and over
    data = {"subtasks": [
        {"id": "t1", "agent": "architect", "description": "A team member who does it"},
        {"id": "a2b3c4e5d8f9076de4eeaebf", "agent": "developer", "description": "The test suite."},
        {"id": "t1", "agent": "tester", "description": "The test that tests the plan.", "depends_on": ["t1"]},
        {"id": "a2b3c4e5d8f9076de4eeaebf", "agent": "documenter", "description": "The document."},
    ]}
    plan, mends = mended(data, SOFTWARE)
    assert [s.id for s in plan.subtasks] == ["t1", "a2b3c4e5d8f9076de4eeaebf", "t3", "t4"]
    assert plan.subtasks[2].depends_on == ["t1"]
    assert mends == ["subtask 3: duplicate id t1, renamed t3",
                     "subtask 4: duplicate id a2b3c4e5d8f9076de4eeaebf, renamed t4"]


def test_a_repeated_subtask_is_dropped_and_dependencies_on_it_follow_the_original():
    data = {"subtasks": [step("t1", "writer", "Write it"), step("t2", "analyst", "Check it"),
                         step("t3", "writer", "write  it"),
                         step("t4", "analyst", "Sum up", depends_on=["t3"])]}
    plan, mends = mended(data)
    assert [(s.id, s.depends_on) for s in plan.subtasks] == [("t1", []), ("t2", []), ("t4", ["t1"])]
    assert mends == ["dropped subtask 3: it repeats t1"]


def test_dependencies_on_unknown_ids_and_on_itself_are_dropped():
    # SmolLM2: depends_on filled with the prompt's own words
    data = {"subtasks": [
        step("t1", depends_on=["t1, t2, ...", "t1"]),
        step("t2", "writer", depends_on=["a team member's name", "t1", "t1"]),
    ]}
    plan, mends = mended(data)
    assert [s.depends_on for s in plan.subtasks] == [[], ["t1"]]
    assert mends == ["t1: dropped the dependency on unknown 't1, t2, ...'",
                     "t1: dropped its dependency on itself",
                     "t2: dropped the dependency on unknown \"a team member's name\""]


def test_a_dependency_on_a_later_subtask_is_reordered():
    data = {"subtasks": [step("t1", "writer", "Write", depends_on=["t2", "t3"]), step("t2", "researcher"),
                         step("t3", "fact-checker", depends_on=["t2"])]}
    plan, mends = mended(data)
    assert [s.id for s in plan.subtasks] == ["t2", "t3", "t1"]
    assert plan.subtasks[2].depends_on == ["t2", "t3"]
    assert mends == ["reordered the subtasks so t1 comes after what it depends on"]


def test_a_cycle_loses_the_edge_that_points_forward():
    data = {"subtasks": [step("t1", depends_on=["t3"]), step("t2", "analyst", depends_on=["t1"]),
                         step("t3", "writer", depends_on=["t2"])]}
    plan, mends = mended(data)
    assert [(s.id, s.depends_on) for s in plan.subtasks] == [("t1", []), ("t2", ["t1"]), ("t3", ["t2"])]
    assert mends == ["t1: dropped its dependency on t3 to break the cycle t1 -> t3 -> t2 -> t1"]


@pytest.mark.parametrize(("given", "description", "expected", "how"), [
    ("Writer", "x", "writer", "name"),
    ("fact checker", "x", "fact-checker", "name"),
    ("lead analyst", "x", "analyst", "name"),
    ("reseacher", "x", "researcher", "name"),          # a typo
    ("verification specialist", "x", "fact-checker", "role"),  # words of the role and skills
    ("plumber", "Summarise the sources found", "researcher", "task"),
    (None, "Turn the findings into a readable report", "writer", "task"),
    ("plumber", "Fix the sink", "analyst", "leader"),  # nothing fits: the leader
])
def test_unknown_agents_map_to_the_closest_member(given, description, expected, how):
    assert match_agent(given, description, Roster.of(RESEARCH)) == (expected, how)


def test_an_unknown_agent_is_mended_and_noted():
    data = {"subtasks": [step("t1", "Fact Checker"), step("t2", "plumber", "Write the report")]}
    plan, mends = mended(data)
    assert [s.agent for s in plan.subtasks] == ["fact-checker", "writer"]
    assert mends == ["t1: agent 'Fact Checker' read as fact-checker",
                     "t2: agent 'plumber' unknown, assigned to writer"]


def test_overlong_fields_are_trimmed_and_bad_ones_dropped():
    data = {"rationale": "r" * 500, "subtasks": [step(
        "T 1", description="word " * 100, acceptance_criteria=["ok", "", "c" * 200, "d", "e"],
        tools=["read_file", "$defs.add_to_list({", "up: 10% of the total budget"],
        estimated_tokens="2,000")]}
    plan, mends = mended(data)
    [s] = plan.subtasks
    assert s.id == "t1" and len(s.description) <= 300 and s.description.endswith("…")
    assert s.acceptance_criteria[0] == "ok" and len(s.acceptance_criteria) == 3
    assert len(s.acceptance_criteria[1]) <= 160 and s.tools == ["read_file"] and s.estimated_tokens == 2000
    assert len(plan.rationale) <= 400
    assert mends == ["trimmed t1's description to 300 characters", "subtask id 'T 1' written as t1",
                     "kept the first 3 of 4 t1's acceptance criteria",
                     "trimmed t1's acceptance criteria to 160 characters",
                     "t1: dropped 2 tool hints that are not tool names",
                     "t1: token estimate '2,000' read as 2000", "trimmed the rationale to 400 characters"]


def test_a_missing_description_uses_a_title_else_the_subtask_is_dropped():
    plan, mends = mended({"subtasks": [{"id": "t1", "agent": "writer", "title": "Draft"},
                                        {"id": "t2", "agent": "writer"}, step("t3")]})
    assert [(s.id, s.description) for s in plan.subtasks] == [("t1", "Draft"), ("t3", "do t3")]
    assert mends == ["t1: no description, used its title", "dropped t2: it has no description"]


def test_too_many_subtasks_keep_the_first():
    data = {"subtasks": [step(f"t{i}", depends_on=[f"t{i - 1}"] if i > 1 else []) for i in range(1, 7)]}
    plan, mends = mended(data, max_subtasks=4)
    assert [s.id for s in plan.subtasks] == ["t1", "t2", "t3", "t4"]
    assert mends[0] == "kept the first 4 of 6 subtasks"


def test_a_bare_list_and_a_renamed_key_are_read_as_the_plan():
    plan, mends = mended([{"id": 1, "agent": "writer", "description": "Write"}])
    assert [s.id for s in plan.subtasks] == ["1"] and mends == ["read a bare list of subtasks as the plan"]
    plan, mends = mended({"tasks": [step("t1")]})
    assert mends == ["read 'tasks' as the subtasks"]


@pytest.mark.parametrize("data", [
    {"nonsense": True},
    {"subtasks": []},
    {"subtasks": [{"id": "t1", "agent": "writer"}]},
    "just text",
])
def test_what_cannot_be_mended_is_left_for_the_repair_round(data):
    assert mend_plan(data, Roster.of(RESEARCH), 12) == (data, [])
    with pytest.raises(ValidationError):
        plan_schema(RESEARCH).model_validate(data)


def test_mends_are_not_in_the_schema_the_model_sees_and_cannot_be_forged():
    schema = plan_schema(RESEARCH)
    assert "mends" not in json.dumps(schema.model_json_schema())
    draft = schema.model_validate({"mends": ["forged"], "subtasks": [step("t1")]})
    assert draft.mends == []
