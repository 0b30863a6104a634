"""Which model an agent uses, and where that choice came from.

Precedence, first found wins:
  CLI flag > $PODIUM_MODEL > agent.model > team.model > project podium.toml
  > user podium.toml (podium.config.user_config_dir()) > "local".

A podium.toml holds non-secret settings only:

    model = "openai/gpt-4o-mini"
    api_base = "http://127.0.0.1:8080/v1"   # optional
    search = "searxng"                      # optional: the web_search tool's provider (llm/search.py)
    search_api_base = "http://127.0.0.1:8888"
    image_model = "openai/gpt-image-1"      # optional: the generate_image tool's model (llm/images.py)
    image_api_base = "..."                  # optional: defaults to api_base

API keys are read from the environment or the OS keyring; a key in a
podium.toml is refused so it never ends up in a file that gets shared.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from podium.config import user_config_dir
from podium.domain import Agent, Team
from podium.llm.types import ModelConfigError

MODEL_ENV = "PODIUM_MODEL"
API_BASE_ENV = "PODIUM_API_BASE"
CONFIG_FILE = "podium.toml"
DEFAULT_MODEL = "local"
_ALLOWED_KEYS = {"model", "api_base", "search", "search_api_base"}
# The generate_image tool's model and endpoint (llm/images.py); image_api_base defaults to api_base.
_ALLOWED_KEYS |= {"image_model", "image_api_base"}


class ModelChoice(BaseModel):
    model: str
    source: str  # e.g. "flag --model", "env PODIUM_MODEL", "agent writer", "team research", a file, "default"


def project_config_path(project: Path | None = None) -> Path:
    """podium.toml next to the project file (the current folder by default)."""
    base = project.expanduser().resolve().parent if project else Path.cwd()
    return base / CONFIG_FILE


def user_config_path() -> Path:
    return user_config_dir() / CONFIG_FILE


def read_config(path: Path) -> dict[str, Any]:
    """A podium.toml's settings ({} if absent); one-line errors for a bad file."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ModelConfigError(f"{path} does not parse: {exc}") from None
    secrets = sorted(k for k in data if "key" in k.lower() or "token" in k.lower() or "secret" in k.lower())
    if secrets:
        raise ModelConfigError(
            f"{path} contains {', '.join(secrets)}: keep API keys in the environment or the OS keyring, "
            "never in a config file"
        )
    for key in sorted(_ALLOWED_KEYS):
        if key in data and not (isinstance(data[key], str) and data[key].strip()):
            raise ModelConfigError(f"{path}: {key} must be a non-empty string")
    return {k: v for k, v in data.items() if k in _ALLOWED_KEYS}


def config_files(project: Path | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """The project's podium.toml then the user's, each with its settings ({} if absent).
    ModelConfigError: one that does not parse or holds a bad value."""
    return [(path, read_config(path)) for path in (project_config_path(project), user_config_path())]


def first_setting(env: str, key: str, files: list[tuple[Path, dict[str, Any]]]) -> tuple[str, str] | None:
    """A provider setting, first found wins: $env > `key` in `files` (project, then user): its value
    (stripped) and where it came from ("env NAME" or the file's path). None: set nowhere."""
    if os.environ.get(env, "").strip():
        return os.environ[env].strip(), f"env {env}"
    for path, data in files:
        if data.get(key):
            return str(data[key]).strip(), str(path)
    return None


def model_layers(
    *,
    flag: str | None = None,
    agent: Agent | None = None,
    team: Team | None = None,
    project: Path | None = None,
) -> list[ModelChoice]:
    """Every layer that names a model, highest precedence first, ending with the default."""
    layers: list[ModelChoice] = []
    if flag:
        layers.append(ModelChoice(model=flag, source="flag --model"))
    if os.environ.get(MODEL_ENV):
        layers.append(ModelChoice(model=os.environ[MODEL_ENV], source=f"env {MODEL_ENV}"))
    if agent is not None and agent.model:
        layers.append(ModelChoice(model=agent.model, source=f"agent {agent.name}"))
    if team is not None and team.model:
        layers.append(ModelChoice(model=team.model, source=f"team {team.name}"))
    for path in (project_config_path(project), user_config_path()):
        model = read_config(path).get("model")
        if model:
            layers.append(ModelChoice(model=model, source=str(path)))
    layers.append(ModelChoice(model=DEFAULT_MODEL, source="default"))
    return layers


def resolve_model(
    *,
    flag: str | None = None,
    agent: Agent | None = None,
    team: Team | None = None,
    project: Path | None = None,
) -> ModelChoice:
    """The model an agent will use and where that choice came from."""
    return model_layers(flag=flag, agent=agent, team=team, project=project)[0]


def resolve_api_base(flag: str | None = None, project: Path | None = None) -> str | None:
    """--api-base > $PODIUM_API_BASE > project podium.toml > user podium.toml."""
    if flag:
        return flag
    if os.environ.get(API_BASE_ENV):
        return os.environ[API_BASE_ENV]
    for path in (project_config_path(project), user_config_path()):
        base = read_config(path).get("api_base")
        if base:
            return str(base)
    return None
