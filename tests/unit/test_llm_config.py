"""Which model an agent uses, and where the choice comes from."""

from __future__ import annotations

import pytest

from podium.domain import Agent, Team
from podium.llm.config import model_layers, resolve_api_base, resolve_model
from podium.llm.types import ModelConfigError

TEAM = Team(
    name="crew",
    leader="lead",
    model="team/model",
    agents=[
        Agent(name="lead", role="leader"),
        Agent(name="writer", role="writer", model="agent/model"),
    ],
)


def test_precedence_flag_env_agent_team_project_user_default(tmp_path, monkeypatch):
    project = tmp_path / "p.podium"
    user_cfg = tmp_path / "config" / "podium.toml"
    user_cfg.parent.mkdir(parents=True, exist_ok=True)
    writer, lead = TEAM.agent("writer"), TEAM.agent("lead")

    assert resolve_model().model_dump() == {"model": "local", "source": "default"}
    user_cfg.write_text('model = "user/model"\n')
    assert resolve_model(project=project).model_dump() == {"model": "user/model", "source": str(user_cfg)}
    (tmp_path / "podium.toml").write_text('model = "project/model"\n')
    assert resolve_model(project=project).source == str(tmp_path / "podium.toml")
    assert resolve_model(team=TEAM, agent=lead, project=project).model_dump() == {
        "model": "team/model",
        "source": "team crew",
    }
    assert resolve_model(team=TEAM, agent=writer, project=project).source == "agent writer"
    monkeypatch.setenv("PODIUM_MODEL", "env/model")
    assert resolve_model(team=TEAM, agent=writer, project=project).source == "env PODIUM_MODEL"
    choice = resolve_model(flag="flag/model", team=TEAM, agent=writer, project=project)
    assert choice.model_dump() == {"model": "flag/model", "source": "flag --model"}
    layers = model_layers(flag="flag/model", team=TEAM, agent=writer, project=project)
    assert [x.model for x in layers] == [
        "flag/model",
        "env/model",
        "agent/model",
        "team/model",
        "project/model",
        "user/model",
        "local",
    ]


def test_api_base_precedence(tmp_path, monkeypatch):
    assert resolve_api_base() is None
    (tmp_path / "podium.toml").write_text('api_base = "http://from-file/v1"\n')
    assert resolve_api_base() == "http://from-file/v1"
    monkeypatch.setenv("PODIUM_API_BASE", "http://from-env/v1")
    assert resolve_api_base() == "http://from-env/v1"
    assert resolve_api_base("http://flag/v1") == "http://flag/v1"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('model = "x"\napi_key = "sk-123"\n', "keep API keys in the environment"),
        ('model = "x"\nOPENAI_API_KEY = "sk-123"\n', "never in a config file"),
        ("model = [", "does not parse"),
        ("model = 3\n", "model must be a non-empty string"),
    ],
)
def test_bad_or_secret_bearing_config_is_refused(tmp_path, text, needle):
    (tmp_path / "podium.toml").write_text(text)
    with pytest.raises(ModelConfigError, match=needle) as err:
        resolve_model()
    assert "sk-123" not in str(err.value)
