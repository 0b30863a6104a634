"""Where things are: the project file, the user's config dir, themes."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_PROJECT = "project.podium"
PROJECT_ENV = "PODIUM_PROJECT"


def resolve_project(path: str | Path | None) -> Path:
    """An explicit path wins, then $PODIUM_PROJECT, then ./project.podium."""
    if path:
        return Path(path).expanduser()
    env = os.environ.get(PROJECT_ENV)
    return Path(env).expanduser() if env else Path(DEFAULT_PROJECT)


def user_config_dir() -> Path:
    override = os.environ.get("PODIUM_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_config_path

    return user_config_path("podium", appauthor=False)
