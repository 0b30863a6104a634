"""The plan as TOML for a person to edit, and checking what they wrote like a leader's plan."""

from __future__ import annotations

import pytest

from podium.app.plan_edit import PlanDraft, PlanEditError, build_plan, parse_plan_toml, plan_toml, same_plan
from podium.domain import Plan, Subtask
from podium.orchestrator.teams import get_team


def draft(plan: Plan) -> PlanDraft:
    return PlanDraft(run_id="r1", objective="Heat pumps", version=1, plan=plan, team=get_team("research"))


def test_the_toml_round_trips_awkward_text():
    plan = Plan(rationale='say "why"\\ here', subtasks=[
        Subtask(id="t1", agent="researcher", description='Line one\nline "two"\twith a tab\\ and ü',
                acceptance_criteria=['has """ triple quotes', "ctrl \x07 char \x7f"], estimated_tokens=42,
                tools=["web_fetch"]),
        Subtask(id="t2", agent="writer", description="Write", depends_on=["t1"]),
    ])
    text = plan_toml(draft(plan))
    assert "# Agents of the research team:" in text
    back = parse_plan_toml(text, get_team("research"))
    assert same_plan(back, plan)
    assert back.subtasks[0].description == plan.subtasks[0].description


def test_problems_are_listed_like_a_leaders_plan():
    team = get_team("research")
    with pytest.raises(PlanEditError) as caught:
        build_plan([{"id": "t1", "agent": "poet", "description": "x", "depends_on": ["t9"]},
                    {"id": "t2", "agent": "writer", "description": "y", "colour": "red"}], "", team)
    assert caught.value.errors == ["subtask 2 (t2): unknown field colour (fields: id, agent, description, "
                                   "depends_on, acceptance_criteria, estimated_tokens, tools)"]
    with pytest.raises(PlanEditError) as caught:
        build_plan([{"id": "t1", "agent": "poet", "description": "x", "depends_on": ["t9"]}], "", team)
    assert any("unknown agent 'poet'" in e for e in caught.value.errors)
    assert any("unknown subtask 't9'" in e for e in caught.value.errors)
    with pytest.raises(PlanEditError) as caught:
        build_plan([{"id": "t1", "agent": "writer", "description": ""}], "", team)
    assert caught.value.errors[0].startswith("subtask 1 (t1): description:")
    with pytest.raises(PlanEditError, match="no subtasks"):
        build_plan([], "", team)
