"""Which embedder a project uses when its file does not say yet.

Once a project has memories, the file's active embedding space decides
(so every process, and every archive, searches in the space its vectors
are in). Before that, and for `podium memory reembed` without --embedder:
$PODIUM_EMBEDDER > `[memory] embedder` in podium.toml next to the project >
the same in the user config dir > the built-in `hashed` embedder.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from podium.config import user_config_dir
from podium.errors import PodiumError
from podium.memory.embedders import HASHED

EMBEDDER_ENV = "PODIUM_EMBEDDER"
FLOOR_ENV = "PODIUM_MEMORY_FLOOR"


def _from_toml(path: Path) -> str | None:
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PodiumError(f"cannot read {path}: {exc}") from None
    value = data.get("memory", {}).get("embedder")
    if value is not None and not isinstance(value, str):
        raise PodiumError(f"{path}: [memory] embedder must be a string")
    return value or None


def configured_embedder(project: Path | None = None) -> tuple[str, str]:
    """(embedder name, where it came from)."""
    env = os.environ.get(EMBEDDER_ENV)
    if env:
        return env, f"${EMBEDDER_ENV}"
    candidates = []
    if project is not None:
        candidates.append(project.resolve().parent / "podium.toml")
    candidates.append(user_config_dir() / "podium.toml")
    for path in candidates:
        name = _from_toml(path)
        if name:
            return name, str(path)
    return HASHED, "built-in default"


def floor_override() -> float | None:
    raw = os.environ.get(FLOOR_ENV)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise PodiumError(f"${FLOOR_ENV} must be a number between -1 and 1, not {raw!r}") from None
    if not -1.0 <= value <= 1.0:
        raise PodiumError(f"${FLOOR_ENV} must be between -1 and 1, not {value}")
    return value
