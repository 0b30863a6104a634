"""Plan schema tightness, validation errors, and the deterministic fallback."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from podium.domain import Plan, Subtask
from podium.orchestrator.planning import draft_to_plan, fallback_plan, find_cycle, plan_schema, validate_plan
from podium.orchestrator.teams import PRESETS

TEAM = PRESETS["research"]


def plan(*specs: tuple[str, str, list[str]]) -> Plan:
    return Plan(subtasks=[Subtask(id=i, agent=a, description=f"do {i}", depends_on=d) for i, a, d in specs])


def test_schema_is_tight_enum_of_agents_lengths_and_counts():
    schema = plan_schema(TEAM, max_subtasks=5).model_json_schema()
    step = schema["$defs"]["PlanStep"]["properties"]
    assert step["agent"]["enum"] == TEAM.agent_names
    assert step["description"]["maxLength"] == 300
    assert step["id"]["maxLength"] == 24
    assert step["acceptance_criteria"]["maxItems"] == 3
    assert step["acceptance_criteria"]["items"]["maxLength"] == 160
    assert schema["properties"]["subtasks"]["maxItems"] == 5
    assert schema["properties"]["subtasks"]["minItems"] == 1


def test_schema_mends_an_unknown_agent_but_refuses_an_empty_plan():
    model = plan_schema(TEAM)
    mended = model.model_validate({"subtasks": [{"id": "t1", "agent": "plumber", "description": "x"}]})
    assert mended.subtasks[0].agent == TEAM.leader and mended.mends == [
        "t1: agent 'plumber' unknown, assigned to analyst"]
    with pytest.raises(ValidationError):
        model.model_validate({"subtasks": []})
    with pytest.raises(ValidationError):  # nothing to mend: the schema's errors go to the repair round
        model.model_validate({"subtasks": [{"id": "t1", "agent": "writer"}]})
    draft = model.model_validate({"subtasks": [{"id": "t1", "agent": "writer", "description": " Write "}]})
    converted = draft_to_plan(draft)
    assert converted.subtasks[0].agent == "writer" and converted.subtasks[0].description == "Write"


def test_valid_plan_has_no_errors():
    assert validate_plan(plan(("t1", "researcher", []), ("t2", "writer", ["t1"])), TEAM) == []


@pytest.mark.parametrize(("specs", "needle"), [
    ([("t1", "plumber", [])], "unknown agent 'plumber'"),
    ([("t1", "writer", ["t9"])], "unknown subtask 't9'"),
    ([("t1", "writer", ["t1"])], "depends on itself"),
    ([("t1", "writer", ["t2"]), ("t2", "analyst", ["t1"])], "dependency cycle"),
    ([("t1", "writer", []), ("t1", "analyst", [])], "duplicate subtask id 't1'"),
    ([("T 1", "writer", [])], "short lowercase"),
])
def test_invalid_plans_are_explained(specs, needle):
    errors = validate_plan(plan(*specs), TEAM)
    assert any(needle in e for e in errors), errors


def test_empty_plan_is_invalid():
    assert validate_plan(Plan(subtasks=[]), TEAM) == ["the plan has no subtasks; give at least one"]


def test_unknown_agent_error_names_the_choices():
    [error] = validate_plan(plan(("t1", "plumber", [])), TEAM)
    assert "researcher, analyst, fact-checker, writer" in error


def test_find_cycle_returns_the_loop():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) in (["a", "b", "c", "a"], ["b", "c", "a", "b"],
                                                               ["c", "a", "b", "c"])
    assert find_cycle({"a": [], "b": ["a"], "c": ["a", "b"]}) is None


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_fallback_plan_is_valid_and_deterministic(name):
    team = PRESETS[name]
    first = fallback_plan("Write about heat pumps", team)
    assert validate_plan(first, team) == []
    assert first == fallback_plan("Write about heat pumps", team)
    # gather -> parallel middle -> assemble
    assert first.subtasks[0].depends_on == []
    assert first.subtasks[-1].depends_on == [s.id for s in first.subtasks[1:-1]]
    assert {s.agent for s in first.subtasks} == set(team.agent_names)
