import pytest
from pydantic import ValidationError

from podium.domain import Agent, BoardColumn, KanbanCard, Subtask, SubtaskStatus, Team, Usage


def _team(**kw):
    agents = [Agent(name="lead", role="leader"), Agent(name="writer", role="writes")]
    return Team(name="t", leader=kw.get("leader", "lead"), agents=kw.get("agents", agents))


def test_team_knows_its_leader_and_specialists():
    team = _team()
    assert [a.name for a in team.specialists] == ["writer"]
    assert team.agent("writer").role == "writes"


def test_team_rejects_unknown_leader():
    with pytest.raises(ValidationError, match="leader 'boss'"):
        _team(leader="boss")


def test_team_rejects_duplicate_agents():
    agents = [Agent(name="a", role="x"), Agent(name="a", role="y")]
    with pytest.raises(ValidationError, match="duplicate agent names: a"):
        Team(name="t", leader="a", agents=agents)


def test_agent_names_are_slugs():
    with pytest.raises(ValidationError):
        Agent(name="Not A Slug", role="x")


@pytest.mark.parametrize(
    ("status", "column"),
    [
        (SubtaskStatus.PENDING, BoardColumn.TODO),
        (SubtaskStatus.WAITING_PEER, BoardColumn.IN_PROGRESS),
        (SubtaskStatus.NEEDS_HELP, BoardColumn.NEEDS_HELP),
        (SubtaskStatus.DONE, BoardColumn.DONE),
        (SubtaskStatus.BLOCKED, BoardColumn.FAILED),
        (SubtaskStatus.FAILED, BoardColumn.NEEDS_HELP),  # a failure waits for a person
        (SubtaskStatus.SKIPPED, BoardColumn.DONE),
        (SubtaskStatus.CANCELLED, BoardColumn.FAILED),
    ],
)
def test_card_column_follows_subtask_status(status, column):
    card = KanbanCard.from_subtask(Subtask(id="t1", agent="a", description="Do it\nmore", status=status))
    assert card.column is column
    assert card.title == "Do it"


def test_usage_adds_up():
    total = Usage(prompt_tokens=1, completion_tokens=2, cost_usd=0.5, calls=1).add(
        Usage(prompt_tokens=3, completion_tokens=4, cost_usd=0.25, calls=1)
    )
    assert (total.tokens, total.cost_usd, total.calls) == (10, 0.75, 2)
