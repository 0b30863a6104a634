"""Built-in team presets and user teams from TOML."""

from __future__ import annotations

import pytest

from podium.config import user_config_dir
from podium.errors import PodiumError
from podium.orchestrator.teams import PRESETS, all_teams, get_team

GOOD = """
description = "Contract review"
leader = "partner"
[[agents]]
name = "partner"
role = "senior partner"
skills = ["contract law"]
[[agents]]
name = "associate"
role = "associate who drafts"
model = "openai/gpt-4o-mini"
"""


def test_presets_match_the_use_cases():
    assert {n: sorted(t.agent_names) for n, t in PRESETS.items()} == {
        "research": ["analyst", "fact-checker", "researcher", "writer"],
        "software": ["architect", "developer", "documenter", "tester"],
        "content": ["editor", "media", "strategist", "writer"],
    }
    for team in PRESETS.values():
        assert team.leader in team.agent_names
        assert all(a.role and a.persona and a.skills for a in team.agents)


def test_user_and_project_teams_load_and_project_wins(tmp_path):
    user = user_config_dir() / "teams"
    user.mkdir(parents=True)
    (user / "legal.toml").write_text(GOOD)
    (user / "research.toml").write_text(GOOD.replace("Contract review", "my research"))
    teams = all_teams(tmp_path / "project.podium")
    assert teams["legal"].team.agent("associate").model == "openai/gpt-4o-mini"
    assert teams["research"].team.description == "my research"  # a user team overrides a preset
    (tmp_path / "teams").mkdir()
    (tmp_path / "teams" / "legal.toml").write_text(GOOD.replace("Contract review", "project legal"))
    assert get_team("legal", tmp_path / "project.podium").description == "project legal"


@pytest.mark.parametrize(("text", "needle"), [
    ("leader = ", "not valid TOML"),
    ('leader = "boss"\n[[agents]]\nname = "a"\nrole = "r"', "leader 'boss' is not one of the team's agents"),
    ('leader = "a"\n[[agents]]\nname = "A B"\nrole = "r"', "agents.0.name"),
    ('leader = "a"\n[[agents]]\nname = "a"\nrole = "r"\n[[agents]]\nname = "a"\nrole = "s"',
     "duplicate agent"),
    ('leader = "a"\nagents = []', "agents"),
])
def test_bad_team_files_give_one_clear_error(tmp_path, text, needle):
    (tmp_path / "teams").mkdir()
    (tmp_path / "teams" / "bad.toml").write_text(text)
    with pytest.raises(PodiumError) as info:
        all_teams(tmp_path / "project.podium")
    message = str(info.value)
    assert "bad.toml" in message and needle in message and "\n" not in message


def test_unknown_team_lists_the_available_ones(tmp_path):
    with pytest.raises(PodiumError, match="unknown team 'nope'; available: content, research, software"):
        get_team("nope", tmp_path / "p.podium")
